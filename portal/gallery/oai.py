"""OAI-PMH 2.0 at /oai: the published catalogue as simple Dublin Core (oai_dc), for harvesters.

A record is an item that is published or was once (Item.published_at is never cleared). A published item is
served with its metadata; one that was published and is no longer, whether returned to draft or deleted into the
trash, is a header with status="deleted". Deletions are kept for good (deletedRecord "persistent"): a withdrawn
item keeps its row, a trashed one its audit-trail row (django-simple-history, history_type "-"), and the archive
removes neither. A record's datestamp is its item's last change (Item.updated) or, in the trash, its deletion.
Sets are collections (setSpec: the collection's slug). Lists come PAGE_SIZE records at a time in item-id order;
a resumption token is the signed request plus the last id sent, and it expires after TOKEN_AGE.

The record describes the original item; its dc:relation is the public item page, where AI colorizations of it
are shown, and a dc:description says so. It never depends on the colorizations, so their approval or withdrawal
leaves its datestamp alone.
"""

from __future__ import annotations

import mimetypes
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db.models import Exists, Min, OuterRef, Q
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal.catalog.models import Collection, Item

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("oai_dc", OAI_DC)
ET.register_namespace("dc", DC)
ET.register_namespace("xsi", XSI)

PAGE_SIZE = 100
TOKEN_AGE = timedelta(days=1)
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
FORMATS = {"oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC)}
COLORIZATION_NOTE = (
    "This record describes the original. Colorized versions shown on the linked public page are AI "
    "colorizations: their colours are a machine learning model's estimate, not the original's."
)
LIST_ARGS = ({"metadataPrefix"}, {"from", "until", "set"})
ARGUMENTS = {  # verb: (required, optional); a list verb may instead take a resumptionToken alone
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), set()),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": LIST_ARGS,
    "ListRecords": LIST_ARGS,
}
RESUMABLE = {"ListSets", "ListIdentifiers", "ListRecords"}
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot carry


class OaiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Record:
    pk: int
    datestamp: datetime
    set_spec: str | None
    item: Item | None  # None: deleted


@dataclass
class Selection:
    """A list request: its arguments as given (they go into the resumption token) and what they select."""

    args: dict[str, str]
    start: datetime | None = None  # from, inclusive
    end: datetime | None = None  # until, exclusive (the day or second after the one named)

    @classmethod
    def parse(cls, args: dict[str, str]) -> Selection:
        _metadata_format(args["metadataPrefix"])
        sel = cls(args)
        given = [_parse_date(args[k]) for k in ("from", "until") if k in args]
        if "from" in args:
            sel.start = given[0][0]
        if "until" in args:
            until, step = given[-1]
            sel.end = until + step if until < datetime.max.replace(tzinfo=UTC) - step else None
        if len(given) == 2:
            if given[0][1] != given[1][1]:
                raise OaiError("badArgument", "from and until must have the same granularity.")
            if given[0][0] > given[1][0]:
                raise OaiError("badArgument", "from is later than until.")
        return sel


# ---------------------------------------------------------------- the records


def _records() -> tuple:
    """(items, trashed): the item rows that are or were published, and the latest deletion of each trashed item
    that had been published and was not restored (audit-trail rows)."""
    items = Item.objects.filter(Q(status=Item.Status.PUBLISHED) | Q(published_at__isnull=False))
    history = Item.history.model
    later = history.objects.filter(
        id=OuterRef("id"), history_type="-", history_date__gt=OuterRef("history_date")
    )
    trashed = (
        history.objects.filter(history_type="-", published_at__isnull=False)
        .exclude(Exists(later))
        .exclude(Exists(Item.objects.filter(pk=OuterRef("id"))))
    )
    return items, trashed


def _select(sel: Selection) -> tuple:
    items, trashed = _records()
    if "set" in sel.args:
        items = items.filter(collection__slug=sel.args["set"])
        trashed = trashed.filter(collection__slug=sel.args["set"])
    if sel.start:
        items, trashed = items.filter(updated__gte=sel.start), trashed.filter(history_date__gte=sel.start)
    if sel.end:
        items, trashed = items.filter(updated__lt=sel.end), trashed.filter(history_date__lt=sel.end)
    return items, trashed


def _page(items, trashed, after: int, limit: int) -> tuple[list[Record], bool]:
    """The next `limit` records with an id above `after`, and whether more follow."""
    rows = items.filter(pk__gt=after).select_related("collection").order_by("pk")[: limit + 1]
    gone = trashed.filter(id__gt=after).order_by("id").values("id", "history_date", "collection__slug")
    records = [
        Record(i.pk, i.updated, i.collection.slug if i.collection else None, i if i.is_published else None)
        for i in rows
    ]
    records += [Record(g["id"], g["history_date"], g["collection__slug"], None) for g in gone[: limit + 1]]
    records.sort(key=lambda r: r.pk)
    return records[:limit], len(records) > limit


def _find(pk: int) -> Record | None:
    items, trashed = _records()
    found = _page(items.filter(pk=pk), trashed.filter(id=pk), 0, 1)[0]
    return found[0] if found else None


# ---------------------------------------------------------------- arguments


def _arguments(query) -> tuple[str, dict[str, str]]:
    verbs = query.getlist("verb")
    if len(verbs) != 1 or verbs[0] not in ARGUMENTS:
        raise OaiError("badVerb", "The verb is missing, repeated or not an OAI-PMH verb.")
    verb = verbs[0]
    args = {}
    for key in query:
        if key != "verb":
            if len(query.getlist(key)) != 1:
                raise OaiError("badArgument", f"{key} is repeated.")
            args[key] = query[key]
    if "resumptionToken" in args and verb in RESUMABLE:
        if len(args) > 1:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument.")
        return verb, args
    required, optional = ARGUMENTS[verb]
    if unknown := sorted(set(args) - required - optional):
        raise OaiError("badArgument", f"{verb} does not take {', '.join(unknown)}.")
    if missing := sorted(required - set(args)):
        raise OaiError("badArgument", f"{verb} needs {', '.join(missing)}.")
    return verb, args


def _parse_date(value: str) -> tuple[datetime, timedelta]:
    """A from/until value: (its start in UTC, its granularity)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC), timedelta(days=1)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), timedelta(seconds=1)
    except ValueError:
        pass
    raise OaiError("badArgument", f"{value!r} is not a UTC date (YYYY-MM-DD) or time ({GRANULARITY}).")


def _metadata_format(prefix: str) -> None:
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat", f"Only {', '.join(FORMATS)} is offered, not {prefix!r}.")


# ---------------------------------------------------------------- XML


def _datestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = NOT_XML.sub("", text)
    return element


class Repository:
    """One request's view of the repository: its base URL and identifiers, and the verbs."""

    def __init__(self, request):
        self.request = request
        self.base_url = request.build_absolute_uri(reverse("gallery:oai"))
        host = urlsplit(settings.PORTAL_URL).hostname or urlsplit(f"//{request.get_host()}").hostname
        self.id_prefix = f"oai:{host}:"

    def identifier(self, pk: int) -> str:
        return f"{self.id_prefix}{pk}"

    def record_for(self, identifier: str) -> Record:
        number = identifier.removeprefix(self.id_prefix)
        found = None
        if identifier.startswith(self.id_prefix) and re.fullmatch(r"[1-9]\d{0,17}", number):
            found = _find(int(number))
        if found is None:
            raise OaiError("idDoesNotExist", f"{identifier!r} is not an identifier of this repository.")
        return found

    # ---- the parts of a response

    def header(self, parent: ET.Element, record: Record) -> None:
        attrs = {} if record.item else {"status": "deleted"}
        header = _add(parent, "header", **attrs)
        _add(header, "identifier", self.identifier(record.pk))
        _add(header, "datestamp", _datestamp(record.datestamp))
        if record.set_spec:
            _add(header, "setSpec", record.set_spec)

    def record(self, parent: ET.Element, record: Record) -> None:
        element = _add(parent, "record")
        self.header(element, record)
        if record.item:
            self.oai_dc(_add(element, "metadata"), record.item)

    def oai_dc(self, parent: ET.Element, item: Item) -> None:
        schema = f"{OAI_DC} {FORMATS['oai_dc'][0]}"
        dc = _add(parent, f"{{{OAI_DC}}}dc", **{f"{{{XSI}}}schemaLocation": schema})
        page = self.request.build_absolute_uri(item.get_absolute_url())
        source = ", ".join(part for part in (item.source_archive, item.source_identifier) if part)
        elements = [
            ("title", item.title),
            ("creator", item.creator),
            *(("subject", s) for s in item.subject_list() + item.people_list()),
            ("description", item.description),
            ("description", COLORIZATION_NOTE),
            ("date", item.date),
            ("type", item.type),  # the DCMI Type vocabulary's StillImage or MovingImage
            ("format", mimetypes.guess_type(item.original_name)[0]),
            ("identifier", page),
            ("source", source),
            ("coverage", item.place),
            ("rights", item.rights),
            ("relation", page),
        ]
        for name, value in elements:
            if value:
                _add(dc, f"{{{DC}}}{name}", value)

    # ---- the verbs: each returns its element, or raises OaiError before making it

    def Identify(self, args: dict) -> ET.Element:
        items, trashed = _records()
        earliest = [
            d
            for d in (items.aggregate(d=Min("updated"))["d"], trashed.aggregate(d=Min("history_date"))["d"])
            if d
        ]
        element = ET.Element("Identify")
        _add(element, "repositoryName", settings.OAI_REPOSITORY_NAME)
        _add(element, "baseURL", self.base_url)
        _add(element, "protocolVersion", "2.0")
        _add(element, "adminEmail", settings.OAI_ADMIN_EMAIL)
        _add(element, "earliestDatestamp", _datestamp(min(earliest, default=timezone.now())))
        _add(element, "deletedRecord", "persistent")
        _add(element, "granularity", GRANULARITY)
        return element

    def ListMetadataFormats(self, args: dict) -> ET.Element:
        if "identifier" in args:
            self.record_for(args["identifier"])
        element = ET.Element("ListMetadataFormats")
        for prefix, (schema, namespace) in FORMATS.items():
            fmt = _add(element, "metadataFormat")
            _add(fmt, "metadataPrefix", prefix)
            _add(fmt, "schema", schema)
            _add(fmt, "metadataNamespace", namespace)
        return element

    def ListSets(self, args: dict) -> ET.Element:
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "This repository issues no resumption tokens for sets.")
        ever_published = Q(items__status=Item.Status.PUBLISHED) | Q(items__published_at__isnull=False)
        collections = Collection.objects.filter(ever_published).distinct().order_by("slug")
        if not collections:
            raise OaiError("noSetHierarchy", "No collection has been published yet.")
        element = ET.Element("ListSets")
        for collection in collections:
            entry = _add(element, "set")
            _add(entry, "setSpec", collection.slug)
            _add(entry, "setName", collection.title)
        return element

    def GetRecord(self, args: dict) -> ET.Element:
        _metadata_format(args["metadataPrefix"])
        record = self.record_for(args["identifier"])
        element = ET.Element("GetRecord")
        self.record(element, record)
        return element

    def ListIdentifiers(self, args: dict) -> ET.Element:
        return self._list("ListIdentifiers", args, self.header)

    def ListRecords(self, args: dict) -> ET.Element:
        return self._list("ListRecords", args, self.record)

    def _list(self, verb: str, args: dict, add) -> ET.Element:
        if "resumptionToken" in args:
            sel, after, done, size = self._resume(verb, args["resumptionToken"])
        else:
            sel, after, done, size = Selection.parse(args), 0, 0, None
        items, trashed = _select(sel)
        records, more = _page(items, trashed, after, PAGE_SIZE)
        if not records:  # (after a token: its records changed since, out of the asked dates)
            raise OaiError("noRecordsMatch", "No record matches these arguments.")
        if size is None and more:
            size = items.count() + trashed.count()
        element = ET.Element(verb)
        for record in records:
            add(element, record)
        if more or "resumptionToken" in args:
            attrs = {"completeListSize": str(size), "cursor": str(done)}
            token = ""
            if more:
                state = {"args": sel.args, "after": records[-1].pk, "done": done + len(records), "size": size}
                token = signing.dumps(state, salt=f"oai-pmh:{verb}", compress=True)
                attrs["expirationDate"] = _datestamp(timezone.now() + TOKEN_AGE)
            _add(element, "resumptionToken", token, **attrs)
        return element

    def _resume(self, verb: str, token: str) -> tuple[Selection, int, int, int]:
        try:
            state = signing.loads(token, salt=f"oai-pmh:{verb}", max_age=TOKEN_AGE)
            args, after, done, size = state["args"], state["after"], state["done"], state["size"]
            return Selection.parse(args), int(after), int(done), int(size)
        except (signing.BadSignature, KeyError, TypeError, ValueError, OaiError):
            raise OaiError(
                "badResumptionToken", "The resumption token is malformed or has expired."
            ) from None


# ---------------------------------------------------------------- the view


@csrf_exempt  # harvesters POST without a session; nothing here changes
@require_http_methods(["GET", "HEAD", "POST"])
def oai(request):
    repo = Repository(request)
    # The OAI namespace is the document's default one: ElementTree writes unqualified tags, the root declares it.
    root = ET.Element("OAI-PMH", {"xmlns": OAI, f"{{{XSI}}}schemaLocation": f"{OAI} {OAI}OAI-PMH.xsd"})
    _add(root, "responseDate", _datestamp(timezone.now()))
    echo = _add(root, "request", repo.base_url)
    try:
        verb, args = _arguments(request.POST if request.method == "POST" else request.GET)
        echo.attrib.update(verb=verb, **args)
        root.append(getattr(repo, verb)(args))
    except OaiError as exc:
        if exc.code in ("badVerb", "badArgument"):
            echo.attrib.clear()  # the spec: no attributes echoed for a request that could not be read
        _add(root, "error", str(exc), code=exc.code)
    body = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return HttpResponse(body, content_type="text/xml; charset=utf-8")
