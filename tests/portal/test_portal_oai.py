"""OAI-PMH 2.0 at /oai: the six verbs, oai_dc, sets, dates, resumption tokens, deleted records, every error."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.catalog import trash
from portal.catalog.models import Collection, Item
from portal.gallery import oai as oai_module

pytestmark = pytest.mark.django_db

OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {
    "o": OAI,
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
DATESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
BASE = "http://testserver/oai"


def _item(title: str, status: str = Item.Status.PUBLISHED, collection=None, **fields) -> Item:
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64],
                original_name=f"{title}.png", collection=collection, **fields)  # fmt: skip
    item.original.name = f"originals/{title}.png"
    item.save()
    return item


def _set_updated(item: Item, moment: datetime) -> None:
    Item.objects.filter(pk=item.pk).update(updated=moment)


def _trash(item: Item):
    """Trash the item; it keeps its id here (Django's delete() clears it) to name the record."""
    entry = trash.trash_item(item)
    item.pk = entry.object_id
    return entry


def _oai(client, method: str = "get", **params) -> ET.Element:
    response = getattr(client, method)("/oai", params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{{{OAI}}}OAI-PMH"
    assert DATESTAMP.match(root.find("o:responseDate", NS).text)
    assert root.find("o:request", NS).text == BASE
    return root


def _error(root: ET.Element) -> str | None:
    error = root.find("o:error", NS)
    return error.get("code") if error is not None else None


def _ids(client, verb: str = "ListIdentifiers", **params) -> list[str]:
    root = _oai(client, verb=verb, metadataPrefix="oai_dc", **params)
    if _error(root) == "noRecordsMatch":
        return []
    assert _error(root) is None, ET.tostring(root)
    return [h.text for h in root.iterfind(f"o:{verb}//o:header/o:identifier", NS)]


def _oai_id(item: Item) -> str:
    return f"oai:testserver:{item.pk}"


@pytest.fixture
def harbour():
    return Collection.objects.create(title="Harbour", slug="harbour", description="Docks and ships")


def test_identify(client):
    published = _item("Quay")
    _set_updated(published, datetime(2024, 3, 1, 12, 0, 5, 999, tzinfo=UTC))
    root = _oai(client, verb="Identify")
    assert root.find("o:request", NS).attrib == {"verb": "Identify"}
    identify = root.find("o:Identify", NS)
    assert identify.find("o:repositoryName", NS).text == "Colorarchive"
    assert identify.find("o:baseURL", NS).text == BASE
    assert identify.find("o:protocolVersion", NS).text == "2.0"
    assert "@" in identify.find("o:adminEmail", NS).text
    assert identify.find("o:earliestDatestamp", NS).text == "2024-03-01T12:00:05Z"
    assert identify.find("o:deletedRecord", NS).text == "persistent"
    assert identify.find("o:granularity", NS).text == "YYYY-MM-DDThh:mm:ssZ"


def test_list_metadata_formats(client):
    item = _item("Quay")
    draft = _item("Draft", Item.Status.DRAFT)
    for params in ({}, {"identifier": _oai_id(item)}):
        root = _oai(client, verb="ListMetadataFormats", **params)
        (fmt,) = root.findall("o:ListMetadataFormats/o:metadataFormat", NS)
        assert fmt.find("o:metadataPrefix", NS).text == "oai_dc"
        assert fmt.find("o:metadataNamespace", NS).text == NS["oai_dc"]
        assert fmt.find("o:schema", NS).text == "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
    for unknown in (_oai_id(draft), "oai:testserver:99999", "oai:elsewhere.org:1", "nonsense"):
        root = _oai(client, verb="ListMetadataFormats", identifier=unknown)
        assert _error(root) == "idDoesNotExist", unknown
        assert root.find("o:request", NS).get("identifier") == unknown  # echoed: not a badArgument


def test_list_sets_are_the_published_collections(client, harbour):
    assert _error(_oai(client, verb="ListSets")) == "noSetHierarchy"
    drafts = Collection.objects.create(title="Drafts", slug="drafts")
    _item("Quay", collection=harbour)
    _item("Draft", Item.Status.DRAFT, collection=drafts)
    root = _oai(client, verb="ListSets")
    sets = [
        (s.find("o:setSpec", NS).text, s.find("o:setName", NS).text) for s in root.iterfind(".//o:set", NS)
    ]
    assert sets == [("harbour", "Harbour")]
    assert _error(_oai(client, verb="ListSets", resumptionToken="x")) == "badResumptionToken"


def test_get_record_is_the_items_dublin_core(client, harbour):
    item = _item("Dock cranes", collection=harbour, creator="Studio Lind", description="Cranes at dusk.",
                 date="circa 1923", place="Hamburg", people="Anna Berg; Karl Lind", subjects="cranes; ships",
                 source_archive="State Archive", source_identifier="SA-17",
                 rights="http://rightsstatements.org/vocab/NoC-US/1.0/")  # fmt: skip
    root = _oai(client, verb="GetRecord", identifier=_oai_id(item), metadataPrefix="oai_dc")
    assert _error(root) is None
    assert root.find("o:request", NS).attrib == {"verb": "GetRecord", "identifier": _oai_id(item),
                                                  "metadataPrefix": "oai_dc"}  # fmt: skip
    record = root.find("o:GetRecord/o:record", NS)
    header = record.find("o:header", NS)
    assert header.get("status") is None
    assert header.find("o:identifier", NS).text == _oai_id(item)
    item.refresh_from_db()
    assert header.find("o:datestamp", NS).text == item.updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert header.find("o:setSpec", NS).text == "harbour"
    dc = record.find("o:metadata/oai_dc:dc", NS)

    def values(name: str) -> list[str]:
        return [e.text for e in dc.findall(f"dc:{name}", NS)]

    page = f"http://testserver{item.get_absolute_url()}"
    assert values("title") == ["Dock cranes"]
    assert values("creator") == ["Studio Lind"]
    assert values("subject") == ["cranes", "ships", "Anna Berg", "Karl Lind"]
    assert values("description")[0] == "Cranes at dusk."
    assert "AI colorization" in values("description")[1]
    assert values("date") == ["circa 1923"]
    assert values("type") == ["StillImage"]
    assert values("format") == ["image/png"]
    assert values("identifier") == [page]
    assert values("relation") == [page]
    assert values("source") == ["State Archive, SA-17"]
    assert values("coverage") == ["Hamburg"]
    assert values("rights") == ["http://rightsstatements.org/vocab/NoC-US/1.0/"]
    assert client.get(page).status_code == 200


def test_get_record_errors(client):
    item = _item("Quay")
    draft = _item("Draft", Item.Status.DRAFT)
    root = _oai(client, verb="GetRecord", identifier=_oai_id(item), metadataPrefix="marc21")
    assert _error(root) == "cannotDisseminateFormat"
    assert root.find("o:GetRecord", NS) is None
    for unknown in (_oai_id(draft), f"oai:testserver:{item.pk}0", "oai:testserver:0", "oai:testserver:-1",
                    "oai:testserver:1e3", "oai:testserver:²", "oai:testserver:99999999999999999999999"):  # fmt: skip
        root = _oai(client, verb="GetRecord", identifier=unknown, metadataPrefix="oai_dc")
        assert _error(root) == "idDoesNotExist", unknown
    assert _error(_oai(client, verb="GetRecord", identifier=_oai_id(item))) == "badArgument"
    assert _error(_oai(client, verb="GetRecord", metadataPrefix="oai_dc")) == "badArgument"


def test_withdrawn_and_trashed_items_are_deleted_records(client, harbour):
    live = _item("Live", collection=harbour)
    withdrawn = _item("Withdrawn", collection=harbour)
    withdrawn.unpublish()
    trashed = _item("Trashed", collection=harbour)
    entry = _trash(trashed)
    never = _item("Never published", Item.Status.DRAFT)
    _trash(_item("Draft trashed", Item.Status.DRAFT))

    root = _oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    records = {
        r.find("o:header/o:identifier", NS).text: r for r in root.iterfind("o:ListRecords/o:record", NS)
    }
    assert sorted(records) == sorted(_oai_id(i) for i in (live, withdrawn, trashed))
    assert _oai_id(never) not in records
    for gone in (withdrawn, trashed):
        record = records[_oai_id(gone)]
        header = record.find("o:header", NS)
        assert header.get("status") == "deleted"
        assert header.find("o:setSpec", NS).text == "harbour"
        assert DATESTAMP.match(header.find("o:datestamp", NS).text)
        assert record.find("o:metadata", NS) is None
    assert records[_oai_id(live)].find("o:header", NS).get("status") is None

    root = _oai(client, verb="GetRecord", identifier=_oai_id(trashed), metadataPrefix="oai_dc")
    assert root.find("o:GetRecord/o:record/o:header", NS).get("status") == "deleted"
    assert root.find("o:GetRecord/o:record/o:metadata", NS) is None
    # the deletion is dated when it happened: a harvest from then on sees it
    deleted_at = root.find("o:GetRecord/o:record/o:header/o:datestamp", NS).text
    assert _oai_id(trashed) in _ids(client, **{"from": deleted_at})

    # restored from the trash, the item is live again, dated at its restoration
    trash.restore(entry)
    root = _oai(client, verb="GetRecord", identifier=_oai_id(trashed), metadataPrefix="oai_dc")
    header = root.find("o:GetRecord/o:record/o:header", NS)
    assert header.get("status") is None
    assert header.find("o:datestamp", NS).text >= deleted_at
    # published again, the withdrawn item is live again
    withdrawn.publish()
    assert _ids(client) == [_oai_id(i) for i in sorted((live, withdrawn, trashed), key=lambda i: i.pk)]
    # trashed a second time after restoration: deleted again, once
    trash.trash_item(Item.objects.get(pk=trashed.pk))
    assert _ids(client).count(_oai_id(trashed)) == 1


def test_a_deleted_record_is_still_offered_as_oai_dc(client):
    """noMetadataFormats never applies: every record the repository knows, a deleted one too, has oai_dc."""
    gone = _item("Gone")
    _trash(gone)
    root = _oai(client, verb="ListMetadataFormats", identifier=_oai_id(gone))
    assert _error(root) is None, ET.tostring(root)
    (fmt,) = root.findall("o:ListMetadataFormats/o:metadataFormat", NS)
    assert fmt.find("o:metadataPrefix", NS).text == "oai_dc"


def test_the_admins_unpublish_action_dates_the_withdrawal(client, admin_client_):
    item = _item("Quay")
    _set_updated(item, datetime(2020, 1, 1, tzinfo=UTC))
    response = admin_client_.post(reverse("admin:catalog_item_changelist"),
                                  {"action": "unpublish", "_selected_action": [item.pk]})  # fmt: skip
    assert response.status_code == 302
    today = timezone.now().strftime("%Y-%m-%d")
    root = _oai(Client(), verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": today})
    (header,) = root.findall("o:ListIdentifiers/o:header", NS)
    assert header.get("status") == "deleted" and header.find("o:identifier", NS).text == _oai_id(item)
    assert item.history.first().status == Item.Status.DRAFT  # and the audit trail has it


def test_from_and_until_select_on_the_last_change_in_utc(client):
    a, b, c = _item("A"), _item("B"), _item("C")
    _set_updated(a, datetime(2024, 1, 31, 23, 59, 59, 500000, tzinfo=UTC))
    _set_updated(b, datetime(2024, 2, 1, 0, 0, 0, tzinfo=UTC))
    _set_updated(c, datetime(2024, 2, 2, 10, 30, 0, tzinfo=UTC))
    gone = _item("Gone")
    _trash(gone)
    Item.history.model.objects.filter(id=gone.pk, history_type="-").update(
        history_date=datetime(2024, 2, 1, 12, 0, tzinfo=UTC)
    )
    cases = {
        ("2024-02-01", None): [b, c, gone],  # in id order
        (None, "2024-01-31"): [a],
        ("2024-02-01", "2024-02-01"): [b, gone],
        ("2024-01-31T23:59:59Z", "2024-01-31T23:59:59Z"): [a],
        ("2024-02-01T00:00:00Z", "2024-02-02T10:29:59Z"): [b, gone],
        ("2024-02-02T10:30:00Z", None): [c],
        (None, "2023-12-31"): [],
    }
    for (start, end), expected in cases.items():
        params = {k: v for k, v in (("from", start), ("until", end)) if v}
        assert _ids(client, **params) == [_oai_id(i) for i in expected], params
        assert _ids(client, "ListRecords", **params) == [_oai_id(i) for i in expected], params
    assert (
        _error(_oai(client, verb="ListRecords", metadataPrefix="oai_dc", until="2023-12-31"))
        == "noRecordsMatch"
    )
    bad = [{"from": "2024-02-01", "until": "2024-02-02T00:00:00Z"},  # granularities differ
           {"from": "2024-02-02", "until": "2024-02-01"},  # from after until
           {"from": "2024-2-1"}, {"from": "2024-02-01T00:00:00"}, {"from": "2024-02-01T00:00:00+01:00"},
           {"until": "2024-W05-1"}, {"from": "2024-02-30"}, {"until": "yesterday"}]  # fmt: skip
    for params in bad:
        root = _oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **params)
        assert _error(root) == "badArgument", params
        assert root.find("o:request", NS).attrib == {}  # a badArgument echoes no arguments


def test_sets_select_a_collection(client, harbour):
    other = Collection.objects.create(title="Fields", slug="fields")
    in_harbour = _item("Quay", collection=harbour)
    _item("Barn", collection=other)
    _item("Loose")
    assert _ids(client, set="harbour") == [_oai_id(in_harbour)]
    assert _ids(client, set="harbour", until="1999-01-01") == []
    for verb in ("ListRecords", "ListIdentifiers"):
        root = _oai(client, verb=verb, metadataPrefix="oai_dc", set="nowhere")
        assert _error(root) == "noRecordsMatch", verb
        assert root.find(f"o:{verb}", NS) is None, verb


def _many(n: int, collection=None) -> list[int]:
    now = timezone.now()
    Item.objects.bulk_create(
        Item(title=f"Frame {i}", status=Item.Status.PUBLISHED, published_at=now, sha256=f"{i:064x}",
             original_name="f.png", original="originals/f.png", collection=collection)
        for i in range(n)
    )  # fmt: skip
    return sorted(Item.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
def test_resumption_tokens_page_through_a_long_list(client, verb, harbour):
    pks = _many(250, harbour)
    seen, cursors = [], []
    params = {"metadataPrefix": "oai_dc", "set": "harbour"}
    while True:
        root = _oai(client, method="post" if len(seen) == 100 else "get", verb=verb, **params)
        assert _error(root) is None
        listed = root.find(f"o:{verb}", NS)
        headers = listed.findall(".//o:header", NS)
        assert len(headers) == (100 if len(seen) < 200 else 50)
        if verb == "ListRecords":
            assert len(listed.findall("o:record/o:metadata/oai_dc:dc", NS)) == len(headers)
        seen += [h.find("o:identifier", NS).text for h in headers]
        token = listed.find("o:resumptionToken", NS)
        assert token is not None
        assert token.get("completeListSize") == "250"
        cursors.append(token.get("cursor"))
        if not token.text:
            assert token.get("expirationDate") is None
            break
        assert DATESTAMP.match(token.get("expirationDate"))
        params = {"resumptionToken": token.text}
    assert cursors == ["0", "100", "200"]
    assert seen == [f"oai:testserver:{pk}" for pk in pks]


def test_a_short_list_has_no_resumption_token(client):
    _many(3)
    root = _oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    assert len(root.findall("o:ListRecords/o:record", NS)) == 3
    assert root.find("o:ListRecords/o:resumptionToken", NS) is None


def test_stale_malformed_or_misused_tokens_are_refused(client, monkeypatch):
    _many(150)
    root = _oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = root.find("o:ListIdentifiers/o:resumptionToken", NS).text
    assert _error(_oai(client, verb="ListIdentifiers", resumptionToken=token)) is None
    for bad in ("garbage", token[:-3] + "AAA", token + "x", ""):
        root = _oai(client, verb="ListIdentifiers", resumptionToken=bad)
        assert _error(root) == "badResumptionToken", bad
        assert root.find("o:request", NS).get("resumptionToken") == bad
    assert _error(_oai(client, verb="ListRecords", resumptionToken=token)) == "badResumptionToken"
    root = _oai(client, verb="ListIdentifiers", resumptionToken=token, metadataPrefix="oai_dc")
    assert _error(root) == "badArgument"  # the token is exclusive
    # a day later the token has expired
    later = datetime.now(UTC) + oai_module.TOKEN_AGE + timedelta(minutes=1)
    monkeypatch.setattr("django.core.signing.time.time", lambda: later.timestamp())
    assert _error(_oai(client, verb="ListIdentifiers", resumptionToken=token)) == "badResumptionToken"


def test_bad_verbs_and_arguments(client):
    _item("Quay")
    for params in ({}, {"verb": "ListEverything"}, {"verb": ""}, {"verb": "identify"},
                   {"verb": ["Identify", "Identify"]}):  # fmt: skip
        root = _oai(client, **params)
        assert _error(root) == "badVerb", params
        assert root.find("o:request", NS).attrib == {}
    for params in (
        {"verb": "Identify", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords"},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": "2024-01-01", "foo": "bar"},
        {"verb": "ListRecords", "metadataPrefix": ["oai_dc", "oai_dc"]},
        {"verb": "ListSets", "set": "harbour"},
        {"verb": "Identify", "resumptionToken": "x"},
    ):
        root = _oai(client, **params)
        assert _error(root) == "badArgument", params
        assert root.find("o:request", NS).attrib == {}
    root = _oai(client, verb="ListRecords", metadataPrefix="marc21")
    assert _error(root) == "cannotDisseminateFormat"
    assert root.find("o:request", NS).attrib == {"verb": "ListRecords", "metadataPrefix": "marc21"}
    assert _error(_oai(client, verb="ListIdentifiers", metadataPrefix="marc21")) == "cannotDisseminateFormat"


def test_harvesters_may_post_without_a_session_or_csrf_token():
    item = _item("Quay")
    harvester = Client(enforce_csrf_checks=True)
    root = _oai(harvester, method="post", verb="GetRecord", identifier=_oai_id(item), metadataPrefix="oai_dc")
    assert root.find("o:GetRecord/o:record/o:metadata/oai_dc:dc/dc:title", NS).text == "Quay"
    assert harvester.put("/oai").status_code == 405


def test_text_xml_cannot_carry_is_left_out(client):
    item = _item("Bell\x0b tower", description="Line\x01one")
    root = _oai(client, verb="GetRecord", identifier=_oai_id(item), metadataPrefix="oai_dc")
    assert root.find(".//dc:title", NS).text == "Bell tower"
