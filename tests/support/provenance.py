"""The rights statement the provenance tests write, and what ExifTool must read back from a colorized file."""

from __future__ import annotations

from colorization import provenance

RIGHTS = provenance.Rights(
    institution="Archives municipales de Saint-Étienne",
    title="Quai & <port>, 1911",
    identifier="AMSE 4Fi 1911/7",
    rights_uri="http://rightsstatements.org/vocab/NKC/1.0/",
    rights_label="No Known Copyright",
    credit_line="Courtesy of Archives municipales de Saint-Étienne, AMSE 4Fi 1911/7",
    copyrighted=False,
    url="https://archive.example.org/items/7/",
)


def assert_rights_and_ai_fields(tags: dict, model: str = "tiny", version: str = "0.1") -> None:
    """Every field a colorized file carries, as ExifTool names them (-G1: the XMP namespace's group)."""
    assert tags["XMP-dc:Title"] == RIGHTS.title
    assert tags["XMP-dc:Identifier"] == RIGHTS.identifier
    assert tags["XMP-dc:Publisher"] == RIGHTS.institution
    assert tags["XMP-photoshop:Source"] == RIGHTS.institution
    assert tags["XMP-photoshop:Credit"] == RIGHTS.credit_line
    assert tags["XMP-dc:Rights"] == f"No Known Copyright ({RIGHTS.rights_uri})"
    assert tags["XMP-xmpRights:WebStatement"] == RIGHTS.rights_uri
    assert tags["XMP-xmpRights:Marked"] is False
    assert tags["XMP-dc:Source"] == RIGHTS.url
    assert tags["XMP-iptcExt:DigitalSourceType"] == provenance.DIGITAL_SOURCE_TYPE
    assert tags["XMP-iptcExt:AISystemUsed"] == f"Colorarchive {model}"
    assert str(tags["XMP-iptcExt:AISystemVersionUsed"]) == version
    assert tags["XMP-dc:Description"].startswith(f"Colorized by {model}")
    assert not any(k.endswith(":Warning") for k in tags), {k: v for k, v in tags.items() if "Warning" in k}
