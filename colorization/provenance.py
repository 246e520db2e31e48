"""Provenance: an XMP packet saying that a file was colorized by a trained model, from which original, and
(given `Rights`) whose item it is and on what terms it may be used.

IPTC's DigitalSourceType `compositeWithTrainedAlgorithmicMedia` marks an image that combines a real capture
(the original's lightness, kept at full resolution) with content made by a trained model (the colours):
`trainedAlgorithmicMedia` would claim the whole picture was generated, and `algorithmicallyEnhanced` would
hide that the colours are invented. The model is named again in IPTC 2025.1's AI System Used and AI System
Version Used. The rights go where archive and photo software look for them: dc:title, dc:identifier,
dc:rights and xmpRights:WebStatement (the statement's URI), photoshop:Credit (IPTC's Credit Line),
photoshop:Source and dc:publisher (the institution), dc:source (the item's public page).

The encoders embed the packet in JPEG (APP1), PNG (iTXt `XML:com.adobe.xmp`), TIFF (tag 700), WebP (XMP
chunk) and MP4/MOV (a top-level XMP `uuid` box, media/mp4_xmp.py); ExifTool reads it back.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
NAMESPACE = "https://ns.colorarchive.org/provenance/1.0/"
SOFTWARE = "Colorarchive"


@dataclass(frozen=True)
class Rights:
    """What travels with a colorized file beside its AI provenance; plain values (the portal fills them from
    its catalogue and settings). Empty fields are left out of the packet."""

    institution: str = ""  # who holds the original and publishes the colorization
    title: str = ""
    identifier: str = ""  # the holding archive's reference, or the catalogue's own
    rights_uri: str = ""  # a RightsStatements.org or Creative Commons URI
    rights_label: str = ""  # the statement's name, e.g. "No Known Copyright"
    credit_line: str = ""
    copyrighted: bool | None = None  # xmpRights:Marked; None where not known (not evaluated, undetermined)
    url: str = ""  # the item's public page

    def rights_text(self) -> str:
        """dc:rights: the statement's name and its URI, so a person reads it and software can follow it."""
        if self.rights_label and self.rights_uri:
            return f"{self.rights_label} ({self.rights_uri})"
        return self.rights_label or self.rights_uri


@functools.cache  # the installed package's metadata is looked up once, not for every file written
def _version() -> str:
    try:
        from importlib.metadata import version

        return version("colorarchive")
    except Exception:
        return "dev"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'s' if n != 1 else ''}"


def description(
    model: str,
    model_version: str,
    source_name: str,
    desaturated: bool = False,
    hints: int = 0,
    strokes: int = 0,
) -> str:
    """The plain-language sentence stored as dc:description."""
    label = f"{model} (version {model_version})" if model_version else model
    source = (
        f"the lightness of the colour original {source_name}"
        if desaturated
        else f"the black-and-white original {source_name}"
    )
    marks = []  # "3 colour hints and 1 stroke", "2 colour strokes"
    if hints:
        marks.append(_count(hints, "colour hint"))
    if strokes:
        marks.append(_count(strokes, "stroke" if hints else "colour stroke"))
    given = f" Staff gave {' and '.join(marks)}, which the colours follow." if marks else ""
    return (
        f"Colorized by {label} with {SOFTWARE} from {source}; colours are an estimate, not a record.{given}"
    )


def _prop(key: str) -> str:
    """snake_case context key -> an XML-safe CamelCase property name."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", key) if part)
    return name if name and name[0].isalpha() else f"X{name}"


def xmp_packet(
    *,
    model: str,
    model_version: str = "",
    source_name: str,
    source_sha256: str,
    extra: dict[str, Any] | None = None,
    when: datetime | None = None,
    desaturated: bool = False,
    rights: Rights | None = None,
) -> bytes:
    """UTF-8 XMP packet (with the xpacket wrapper) describing one colorized file."""
    when = when or datetime.now(UTC)
    rights = rights or Rights()
    attrs = {
        "Iptc4xmpExt:DigitalSourceType": DIGITAL_SOURCE_TYPE,
        "Iptc4xmpExt:AISystemUsed": ai_system(model),
        "Iptc4xmpExt:AISystemVersionUsed": model_version,
        "xmp:CreatorTool": f"{SOFTWARE} {_version()}",
        "xmp:ModifyDate": when.isoformat(timespec="seconds"),
        "dc:identifier": rights.identifier,
        "dc:source": rights.url,
        "photoshop:Credit": rights.credit_line,
        "photoshop:Source": rights.institution,
        "xmpRights:WebStatement": rights.rights_uri,
        "xmpRights:Marked": "" if rights.copyrighted is None else str(rights.copyrighted),
        "colorarchive:Model": model,
        "colorarchive:ModelVersion": model_version,
        "colorarchive:SourceFile": source_name,
        "colorarchive:SourceSHA256": source_sha256,
    }
    for key, value in (extra or {}).items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            attrs.setdefault(f"colorarchive:{_prop(key)}", str(value))
    attr_text = "".join(f"\n    {k}={quoteattr(str(v))}" for k, v in attrs.items() if v != "")
    hints = int((extra or {}).get("colour_hints", 0) or 0)
    strokes = int((extra or {}).get("colour_hint_strokes", 0) or 0)
    text = description(model, model_version, source_name, desaturated, hints, strokes)
    elements = _alt("dc:description", text) + _alt("dc:title", rights.title)
    elements += _alt("dc:rights", rights.rights_text()) + _bag("dc:publisher", rights.institution)
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"
    xmlns:colorarchive="{NAMESPACE}"{attr_text}>{elements}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return packet.encode("utf-8")


def ai_system(model: str) -> str:
    """IPTC's AI System Used: the software and the model's name, e.g. "Colorarchive unet-v11"."""
    return f"{SOFTWARE} {model}"


def _alt(name: str, text: str) -> str:
    """A language alternative (dc:title, dc:description, dc:rights) in the default language; "" when empty."""
    return _one_item_container(name, "Alt", ' xml:lang="x-default"', text)


def _bag(name: str, text: str) -> str:
    """An unordered list of one (dc:publisher); "" when empty."""
    return _one_item_container(name, "Bag", "", text)


def _one_item_container(name: str, kind: str, attributes: str, text: str) -> str:
    if not text:
        return ""
    return f"""
   <{name}>
    <rdf:{kind}>
     <rdf:li{attributes}>{escape(text)}</rdf:li>
    </rdf:{kind}>
   </{name}>"""
