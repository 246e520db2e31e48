"""What a colorized file's own metadata says of its item (Item.file_rights, read by the workers): the
institution from settings, and the item's title, identifier, rights statement and credit line."""

import pytest

from portal.catalog.models import Item

pytestmark = pytest.mark.django_db


def _item(**fields) -> Item:
    return Item.objects.create(title="Le quai, 1911", sha256=f"{len(fields):064x}", **fields)


def test_the_archive_reference_is_the_identifier_and_in_the_credit(settings):
    settings.INSTITUTION_NAME, settings.PORTAL_URL = "Archives de Lyon", "https://archive.example.org/"
    item = _item(source_archive="Fonds Bernard", source_identifier="4Fi 7",
                 rights="http://rightsstatements.org/vocab/InC-EDU/1.0/")  # fmt: skip
    assert item.file_rights() == {
        "institution": "Archives de Lyon",
        "title": "Le quai, 1911",
        "identifier": "4Fi 7",
        "rights_uri": "http://rightsstatements.org/vocab/InC-EDU/1.0/",
        "rights_label": "In Copyright - Educational Use Permitted",
        "credit_line": "Courtesy of Fonds Bernard, 4Fi 7",
        "copyrighted": True,
        "url": f"https://archive.example.org/items/{item.pk}/",
    }


@pytest.mark.parametrize(
    "rights,marked",
    [
        ("http://rightsstatements.org/vocab/NoC-US/1.0/", False),
        ("http://rightsstatements.org/vocab/NKC/1.0/", False),
        ("http://rightsstatements.org/vocab/CNE/1.0/", None),
        ("http://rightsstatements.org/vocab/UND/1.0/", None),
    ],
)
def test_without_a_reference_the_institution_is_credited(settings, rights, marked):
    settings.INSTITUTION_NAME, settings.PORTAL_URL = "Archives de Lyon", ""
    item = _item(rights=rights)
    found = item.file_rights()
    assert found["identifier"] == f"Archives de Lyon item {item.pk}" and found["url"] == ""
    assert found["credit_line"] == "Courtesy of Archives de Lyon"
    assert found["copyrighted"] is marked
