"""IIIF Presentation 3 manifests: one per published item (the original and each published colorization as
labelled canvases), one collection per collection and the archive's top-level collection; every kind is loaded
into iiif-prezi3's models (generated from the specification's JSON Schema) and checked against the
specification's rules below, and none shows a draft item or an unapproved result."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser

import iiif_prezi3
import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from iiif_prezi3.base import Base
from pydantic import ValidationError

from portal.catalog.models import Collection, Item
from tests.support.catalog import add_item
from tests.support.media import make_photo

pytestmark = pytest.mark.django_db

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
RIGHTS_PREFIXES = ("http://rightsstatements.org/vocab/", "http://creativecommons.org/")


# ---------------------------------------------------------------- the specification's rules


def _switch_off_autofill() -> None:
    """iiif-prezi3 is an authoring library: when a model is made its helpers fill in a missing `id` or turn a
    plain string into a language map. Validation must see what we send, so they are switched off here."""
    classes = [Base]
    while classes:
        cls = classes.pop()
        if "_defaulters" in cls.__dict__:
            cls._defaulters = []
        classes.extend(cls.__subclasses__())


_switch_off_autofill()
SCHEMA_MODELS = {"Manifest": iiif_prezi3.Manifest, "Collection": iiif_prezi3.Collection}


def validate(document: dict) -> None:
    """The document read by iiif-prezi3's model of its type (raises pydantic's ValidationError)."""
    SCHEMA_MODELS[document["type"]].model_validate(document)


def _language_map(value) -> None:
    assert isinstance(value, dict) and value, value
    for language, strings in value.items():
        assert isinstance(language, str) and isinstance(strings, list) and strings, value
        assert all(isinstance(s, str) for s in strings), value


def _resource(resource: dict, kind: str, ids: set[str]) -> None:
    assert resource["type"] == kind, resource
    assert resource["id"].startswith("http://testserver/"), resource["id"]
    assert resource["id"] not in ids, f"id {resource['id']} used twice"
    ids.add(resource["id"])
    if "label" in resource:
        _language_map(resource["label"])
    for entry in resource.get("metadata", []):
        assert set(entry) == {"label", "value"}, entry
        _language_map(entry["label"])
        _language_map(entry["value"])


def check_manifest(manifest: dict) -> None:
    """IIIF Presentation 3.0's requirements for what our manifests hold: the schema's, then the rules of
    sections 2 to 5 of the spec that it does not express."""
    validate(manifest)
    ids: set[str] = set()
    assert manifest["@context"] == CONTEXT
    _resource(manifest, "Manifest", ids)
    _language_map(manifest["label"])
    if "summary" in manifest:
        _language_map(manifest["summary"])
    assert manifest["rights"].startswith(RIGHTS_PREFIXES), manifest["rights"]
    _language_map(manifest["requiredStatement"]["label"])
    _language_map(manifest["requiredStatement"]["value"])
    for link in manifest["homepage"]:
        assert link["type"] == "Text" and link["format"] == "text/html"
    assert manifest["items"], "a manifest has at least one canvas"
    for canvas in manifest["items"]:
        _resource(canvas, "Canvas", ids)
        assert ("width" in canvas) == ("height" in canvas), "a canvas has both width and height or neither"
        for page in canvas["items"]:
            _resource(page, "AnnotationPage", ids)
            for annotation in page["items"]:
                _resource(annotation, "Annotation", ids)
                assert annotation["motivation"] == "painting"
                assert annotation["target"] == canvas["id"]
                body = annotation["body"]
                assert body["type"] in ("Image", "Video") and "/" in body["format"]
                if body["type"] == "Video":
                    assert body["duration"] > 0 and canvas["duration"] == body["duration"]
                for dimension in ("width", "height"):
                    assert body.get(dimension) == canvas.get(dimension)


def _get(client: Client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"] == f'application/ld+json;profile="{CONTEXT}"'
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()


def _labels(entries: list[dict]) -> dict[str, str]:
    return {e["label"]["en"][0]: next(iter(e["value"].values()))[0] for e in entries}


# ---------------------------------------------------------------- the manifests


def test_a_photographs_manifest_shows_the_original_and_each_published_colorization(client, archive):
    dock = archive["dock"]
    manifest = _get(client, f"/iiif/items/{dock.pk}/manifest")
    check_manifest(manifest)
    assert manifest["id"] == f"http://testserver/iiif/items/{dock.pk}/manifest"
    assert manifest["label"] == {"none": ["Dock cranes"]}
    assert manifest["summary"] == {"none": ["Cranes at the quay."]}
    assert manifest["rights"] == "http://rightsstatements.org/vocab/NoC-NC/1.0/"
    assert manifest["requiredStatement"]["value"] == {"en": ["Courtesy of Harbour Museum, HM-1923-7"]}
    assert manifest["homepage"][0]["id"] == f"http://testserver/items/{dock.pk}/"
    assert manifest["partOf"] == [{"id": "http://testserver/iiif/collections/harbour", "type": "Collection"}]
    metadata = _labels(manifest["metadata"])
    assert metadata["Date"] == "circa 1923" and metadata["Place"] == "Hamburg"
    assert metadata["People"] == "Anna Berg; Karl Maier" and metadata["Creator"] == "Studio Lind"
    assert metadata["Rights"] == "No Copyright - Non-Commercial Use Only"
    assert metadata["AI colorizations"].startswith("unet v10; unet-bins v9.")

    original, by_default, by_other = manifest["items"]  # the unapproved and the failed results are not there
    assert original["label"] == {"en": ["Original"]}
    assert (original["width"], original["height"]) == (96, 72)
    body = original["items"][0]["items"][0]["body"]
    assert body == {"id": f"http://testserver/files/items/{dock.pk}/original", "type": "Image",
                    "format": "image/png", "width": 96, "height": 72}  # fmt: skip
    for canvas, req, name, version in ((by_default, archive["by_default"], "unet", "10"),
                                       (by_other, archive["by_other"], "unet-bins", "9")):  # fmt: skip
        assert canvas["label"] == {"en": [f"AI colorization ({name} v{version})"]}
        details = _labels(canvas["metadata"])
        assert details["Model"] == name and details["Model version"] == version
        assert "AI colorization" in details
        body = canvas["items"][0]["items"][0]["body"]
        assert body["id"] == f"http://testserver/files/results/{req.pk}/result"
        assert body["format"] == "image/png"
    # every file a viewer is sent to opens for anyone
    for canvas in manifest["items"]:
        for url in (canvas["items"][0]["items"][0]["body"]["id"], canvas["rendering"][0]["id"]):
            assert client.get(url.removeprefix("http://testserver")).status_code == 200, url


def test_a_films_manifest_paints_videos_with_their_duration(client, archive):
    film = archive["film"]
    manifest = _get(client, f"/iiif/items/{film.pk}/manifest")
    check_manifest(manifest)
    original, colorized = manifest["items"]
    for canvas in (original, colorized):
        assert (canvas["width"], canvas["height"], canvas["duration"]) == (64, 48, 2.0)
        body = canvas["items"][0]["items"][0]["body"]
        assert body["type"] == "Video" and body["format"] == "video/mp4" and body["duration"] == 2.0
    assert colorized["items"][0]["items"][0]["body"]["id"].endswith(
        f"/results/{archive['film_result'].pk}/result"
    )


def test_a_preview_is_painted_and_the_original_offered_for_download(client, archive, tmp_path):
    dock = archive["dock"]
    with open(make_photo(tmp_path / "web.jpg"), "rb") as f:
        dock.preview.save("web.jpg", File(f))
    original = _get(client, f"/iiif/items/{dock.pk}/manifest")["items"][0]
    assert (
        original["items"][0]["items"][0]["body"]["id"] == f"http://testserver/files/items/{dock.pk}/preview"
    )
    assert original["items"][0]["items"][0]["body"]["format"] == "image/jpeg"
    assert original["rendering"][0]["id"] == f"http://testserver/files/items/{dock.pk}/original"


def test_an_item_with_no_published_colorization_has_the_original_alone(client, archive):
    archive["by_default"].withdraw_approval()
    archive["by_other"].withdraw_approval()
    manifest = _get(client, f"/iiif/items/{archive['dock'].pk}/manifest")
    check_manifest(manifest)
    assert [c["label"] for c in manifest["items"]] == [{"en": ["Original"]}]
    assert "AI colorizations" not in _labels(manifest["metadata"])


def test_drafts_and_unapproved_results_appear_in_no_manifest(client, archive):
    draft, dock = archive["draft"], archive["dock"]
    assert client.get(f"/iiif/items/{draft.pk}/manifest").status_code == 404
    assert client.get("/iiif/items/999999/manifest").status_code == 404
    everything = json.dumps(_get(client, f"/iiif/items/{dock.pk}/manifest"))
    everything += json.dumps(_get(client, "/iiif/collections/harbour"))
    for hidden in ("unapproved", "failed", "draft_result"):
        assert f"/results/{archive[hidden].pk}/" not in everything, hidden
    assert "Secret draft" not in everything and f"/items/{draft.pk}/" not in everything
    dock.unpublish()  # a withdrawn item's manifest goes with its page, cached or not
    assert client.get(f"/iiif/items/{dock.pk}/manifest").status_code == 404


def test_the_collection_lists_its_published_items_manifests(client, archive):
    collection = _get(client, "/iiif/collections/harbour")
    assert collection["@context"] == CONTEXT
    assert collection["type"] == "Collection" and collection["label"] == {"none": ["Harbour"]}
    assert collection["summary"] == {"none": ["Docks and ships"]}
    assert collection["homepage"][0]["id"] == "http://testserver/collections/harbour/"
    listed = [(m["type"], m["id"], m["label"]) for m in collection["items"]]
    assert listed == [
        ("Manifest", f"http://testserver/iiif/items/{archive[name].pk}/manifest", {"none": [title]})
        for name, title in (("dock", "Dock cranes"), ("film", "Tram street"))
    ]
    for _, url, _ in listed:
        check_manifest(_get(client, url.removeprefix("http://testserver")))
    Collection.objects.create(title="Drafts only", slug="drafts-only")
    archive["draft"].collection = Collection.objects.get(slug="drafts-only")
    archive["draft"].save()
    assert client.get("/iiif/collections/drafts-only").status_code == 404
    assert client.get("/iiif/collections/nowhere").status_code == 404


def test_a_cached_manifest_keeps_its_cors_header(client, archive):
    url = f"/iiif/items/{archive['dock'].pk}/manifest"
    first = client.get(url)
    second = client.get(url)  # from the public cache
    assert second.content == first.content
    assert second["Access-Control-Allow-Origin"] == "*"
    assert second["Content-Type"] == first["Content-Type"]


class IiifLinks(HTMLParser):
    """A page's IIIF links: <link rel="alternate"> of the IIIF type in the head, and the visible links marked
    with the "IIIF" badge archive users know (their data-iiif says which kind of document)."""

    def __init__(self, html: str):
        super().__init__()
        self.alternates: list[str] = []
        self.visible: list[dict] = []
        self._open: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "alternate" and attrs.get("type") == IIIF_TYPE:
            self.alternates.append(attrs["href"])
        if tag == "a" and "data-iiif" in attrs:
            self._open = {"href": attrs["href"], "kind": attrs["data-iiif"], "text": ""}
            self.visible.append(self._open)

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


IIIF_TYPE = f'application/ld+json;profile="{CONTEXT}"'


@pytest.mark.parametrize(
    ("page", "document", "kind"),
    [
        ("/", "/iiif/collection", "Collection"),
        ("/collections/harbour/", "/iiif/collections/harbour", "Collection"),
        ("dock", "dock", "Manifest"),
    ],
    ids=["home page: the top-level collection", "collection page: its collection", "item page: its manifest"],
)
def test_each_public_page_links_its_iiif_document_in_the_head_and_with_the_iiif_badge(
    client, archive, page, document, kind
):
    if page == "dock":
        page, document = archive["dock"].get_absolute_url(), f"/iiif/items/{archive['dock'].pk}/manifest"
    links = IiifLinks(client.get(page).content.decode())
    assert links.alternates == [document], "one <link rel=alternate> to the IIIF document, for harvesters"
    assert [(a["href"], a["kind"]) for a in links.visible] == [(document, kind.lower())]
    assert links.visible[0]["text"].split()[0] == "IIIF", "the link starts with the IIIF badge"
    linked = _get(client, document)
    validate(linked)
    assert (linked["type"], linked["id"]) == (kind, f"http://testserver{document}")


def test_the_home_page_offers_the_catalogue_to_other_systems(client, archive):
    page = client.get("/").content.decode()
    for address in ('href="/catalogue.csv"', 'href="/catalogue.json"', 'href="/oai?verb=Identify"'):
        assert address in page, address
    assert client.get("/oai?verb=Identify").status_code == 200


# ---------------------------------------------------------------- the top-level collection, and validation


def test_the_top_level_collection_lists_each_collection_and_the_items_outside_any(client, archive, tmp_path):
    loose = add_item(tmp_path, "Lighthouse")
    add_item(tmp_path, "Loose draft", Item.Status.DRAFT)
    Collection.objects.create(title="Empty", slug="empty")  # holds nothing published: not listed
    top = _get(client, "/iiif/collection")
    validate(top)
    assert top["@context"] == CONTEXT
    assert top["id"] == "http://testserver/iiif/collection" and top["label"] == {"none": ["Colorarchive"]}
    assert top["homepage"][0]["id"] == "http://testserver/"
    assert [(m["type"], m["id"], m["label"]) for m in top["items"]] == [
        ("Collection", "http://testserver/iiif/collections/harbour", {"none": ["Harbour"]}),
        ("Manifest", f"http://testserver/iiif/items/{loose.pk}/manifest", {"none": ["Lighthouse"]}),
    ]
    # each collection and each item outside one says it is part of it
    part_of_top = [{"id": top["id"], "type": "Collection", "label": {"none": ["Colorarchive"]}}]
    assert _get(client, "/iiif/collections/harbour")["partOf"] == part_of_top
    assert _get(client, f"/iiif/items/{loose.pk}/manifest")["partOf"] == part_of_top
    # every published item is reached from the top
    reached = set()
    for entry in top["items"]:
        document = _get(client, entry["id"].removeprefix("http://testserver"))
        validate(document)
        reached |= {m["id"] for m in document["items"]} if document["type"] == "Collection" else {entry["id"]}
    assert reached == {
        f"http://testserver/iiif/items/{item.pk}/manifest" for item in Item.objects.published()
    }


def test_the_top_level_collection_of_an_empty_archive_lists_nothing(client, db):
    top = _get(client, "/iiif/collection")
    validate(top)
    assert top["items"] == []


def _tiles_in_place(identifier: str) -> None:
    """A pyramid is in place once its info.json is (portal/gallery/deepzoom.exists)."""
    default_storage.save(f"iiif/image/{identifier}/info.json", ContentFile(b"{}"))


@pytest.fixture
def every_kind(client, archive, tmp_path) -> dict[str, dict]:
    """One document of each kind the portal serves."""
    dock = archive["dock"]
    _tiles_in_place(f"item-{dock.pk}")
    _tiles_in_place(f"result-{archive['by_default'].pk}")
    loose = add_item(tmp_path, "Lighthouse")
    documents = {
        "photograph with colorizations": _get(client, f"/iiif/items/{dock.pk}/manifest"),
        "film": _get(client, f"/iiif/items/{archive['film'].pk}/manifest"),
        "item outside any collection": _get(client, f"/iiif/items/{loose.pk}/manifest"),
        "collection": _get(client, "/iiif/collections/harbour"),
        "top-level collection": _get(client, "/iiif/collection"),
    }
    photograph = documents["photograph with colorizations"]
    assert len(photograph["items"]) == 3  # the original and two colorizations
    bodies = [c["items"][0]["items"][0]["body"] for c in photograph["items"]]
    assert [b.get("service", [{}])[0].get("profile") for b in bodies] == ["level0", "level0", None]
    assert documents["film"]["items"][0]["items"][0]["items"][0]["body"]["type"] == "Video"
    return documents


def test_every_kind_of_document_is_valid_iiif_presentation_3(every_kind):
    for kind, document in every_kind.items():
        try:
            validate(document)
        except ValidationError as error:
            pytest.fail(f"{kind}: {error}")


def _canvas_body(document: dict) -> dict:
    return document["items"][0]["items"][0]["items"][0]["body"]


BREAKAGES = {
    "label is not a language map": ("photograph with colorizations", lambda d: d.update(label="Dock cranes")),
    "no id": ("photograph with colorizations", lambda d: d.pop("id")),
    "no canvases": ("film", lambda d: d.pop("items")),
    "a canvas of the wrong type": ("film", lambda d: d["items"][0].update(type="Image")),
    "a canvas without id": ("photograph with colorizations", lambda d: d["items"][1].pop("id")),
    "a body with a bad format": ("film", lambda d: _canvas_body(d).update(format="mp4")),
    "a canvas width that is not a number": (
        "photograph with colorizations",
        lambda d: d["items"][0].update(width="wide"),
    ),
    "a rights that is not a URI": ("item outside any collection", lambda d: d.update(rights="free to use")),
    "metadata without value": ("photograph with colorizations", lambda d: d["metadata"][0].pop("value")),
    "a collection listing a canvas": ("collection", lambda d: d["items"][0].update(type="Canvas")),
    "a top-level collection listing an entry without id": (
        "top-level collection",
        lambda d: d["items"][0].pop("id"),
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_document_fails_validation(every_kind, breakage):
    kind, damage = BREAKAGES[breakage]
    document = copy.deepcopy(every_kind[kind])
    validate(document)  # whole, it passes
    damage(document)
    with pytest.raises(ValidationError):
        validate(document)
