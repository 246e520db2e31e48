"""schema.org JSON-LD and Open Graph on public item pages: the original and its published colorizations (each
based on the original and its model, disclosed as made with a trained model), escaped whatever the title holds."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from portal.catalog.models import Item
from tests.support.catalog import add_item

pytestmark = pytest.mark.django_db

NASTY = "Dock \"Quay\" </script><script>alert('x')</script> & <!-- co"
AI_SOURCE = "https://schema.org/CompositeWithTrainedAlgorithmicMediaDigitalSource"


class Head(HTMLParser):
    """The page's <meta property> tags and its JSON-LD scripts' text."""

    def __init__(self, html: str):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.json_ld: list[str] = []
        self._in_json_ld = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and "property" in attrs:
            self.meta[attrs["property"]] = attrs["content"]
        self._in_json_ld = tag == "script" and attrs.get("type") == "application/ld+json"
        if self._in_json_ld:
            self.json_ld.append("")

    def handle_endtag(self, tag):
        self._in_json_ld = False

    def handle_data(self, data):
        if self._in_json_ld:
            self.json_ld[-1] += data


def _head(client, url: str) -> Head:
    response = client.get(url)
    assert response.status_code == 200
    return Head(response.content.decode())


def test_the_graph_has_the_original_and_each_published_colorization(client, archive):
    dock = archive["dock"]
    head = _head(client, dock.get_absolute_url())
    (graph,) = [json.loads(text) for text in head.json_ld]
    assert graph["@context"] == "https://schema.org"
    original, by_default, by_other = graph["@graph"]  # the unapproved and the failed results are not there
    page = f"http://testserver/items/{dock.pk}/"
    assert original["@type"] == ["Photograph", "ImageObject"] and original["@id"] == f"{page}#original"
    assert original["name"] == "Dock cranes" and original["description"] == "Cranes at the quay."
    assert original["contentUrl"] == f"http://testserver/files/items/{dock.pk}/original"
    assert original["license"] == "http://rightsstatements.org/vocab/NoC-NC/1.0/"
    assert original["creditText"] == "Courtesy of Harbour Museum, HM-1923-7"
    assert original["contentLocation"] == {"@type": "Place", "name": "Hamburg"}
    assert [p["name"] for p in original["about"]] == ["Anna Berg", "Karl Maier"]
    assert original["isPartOf"]["url"] == "http://testserver/collections/harbour/"
    assert original["subjectOf"]["url"] == f"http://testserver/iiif/items/{dock.pk}/manifest"
    assert "digitalSourceType" not in original
    for node, req, name, version in ((by_default, archive["by_default"], "unet", "10"),
                                     (by_other, archive["by_other"], "unet-bins", "9")):  # fmt: skip
        assert node["isBasedOn"] == [
            {"@id": f"{page}#original"},
            {"@type": "SoftwareApplication", "name": name, "softwareVersion": version},
        ]
        assert node["digitalSourceType"] == AI_SOURCE
        assert node["description"].startswith(f"AI colorization by the model {name} v{version}.")
        assert node["contentUrl"] == f"http://testserver/files/results/{req.pk}/result"
    html = client.get(dock.get_absolute_url()).content.decode()
    for hidden in ("unapproved", "failed", "draft_result"):
        assert f"/results/{archive[hidden].pk}/" not in html, hidden


def test_a_film_is_a_video_object_with_its_duration(client, archive):
    head = _head(client, archive["film"].get_absolute_url())
    original, colorized = json.loads(head.json_ld[0])["@graph"]
    for node in (original, colorized):
        assert node["@type"] == "VideoObject"
        assert (node["width"], node["height"], node["duration"]) == (64, 48, "PT2S")
    assert original["uploadDate"]
    assert head.meta["og:type"] == "video.other"


def test_open_graph_shows_the_colorization_and_says_so(client, archive):
    dock = archive["dock"]
    meta = _head(client, dock.get_absolute_url()).meta
    assert meta["og:title"] == "Dock cranes"
    assert meta["og:url"] == f"http://testserver/items/{dock.pk}/"
    assert meta["og:image"] == f"http://testserver/files/results/{archive['by_default'].pk}/result"
    assert meta["og:image:alt"] == "AI colorization of Dock cranes by the model unet v10"
    assert "AI colorization by unet v10" in meta["og:description"]
    chosen = _head(client, f"{dock.get_absolute_url()}?result={archive['by_other'].pk}").meta
    assert chosen["og:image"].endswith(f"/results/{archive['by_other'].pk}/result")
    archive["by_default"].withdraw_approval()
    archive["by_other"].withdraw_approval()
    plain = _head(client, dock.get_absolute_url()).meta
    assert "og:image" not in plain and "AI" not in plain["og:description"]  # no preview, no colorization


def test_a_title_cannot_break_out_of_the_script_or_the_tags(client, tmp_path):
    item = add_item(tmp_path, "nasty", description=f"Said: {NASTY}")
    Item.objects.filter(pk=item.pk).update(title=NASTY, place=NASTY)
    html = client.get(item.get_absolute_url()).content.decode()
    head = Head(html)
    (text,) = head.json_ld
    assert "<" not in text and ">" not in text and "&" not in text  # escaped as \u003C and friends
    graph = json.loads(text)["@graph"]
    assert graph[0]["name"] == NASTY and graph[0]["contentLocation"]["name"] == NASTY
    assert head.meta["og:title"] == NASTY
    assert "<script>alert" not in html
