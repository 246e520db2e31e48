"""Provenance: an XMP packet saying that a file was colorized by a trained model, from which original.

IPTC's DigitalSourceType `compositeWithTrainedAlgorithmicMedia` marks an image that combines a real capture
(the original's lightness) with content made by a trained model (the colours). The encoders embed the packet
in JPEG (APP1), PNG (iTXt `XML:com.adobe.xmp`), TIFF (tag 700) and WebP (XMP chunk); ExifTool reads it back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
NAMESPACE = "https://ns.colorarchive.org/provenance/1.0/"
SOFTWARE = "Colorarchive"


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
) -> bytes:
    """UTF-8 XMP packet (with the xpacket wrapper) describing one colorized file."""
    when = when or datetime.now(UTC)
    attrs = {
        "Iptc4xmpExt:DigitalSourceType": DIGITAL_SOURCE_TYPE,
        "xmp:CreatorTool": f"{SOFTWARE} {_version()}",
        "xmp:ModifyDate": when.isoformat(timespec="seconds"),
        "colorarchive:Model": model,
        "colorarchive:ModelVersion": model_version,
        "colorarchive:SourceFile": source_name,
        "colorarchive:SourceSHA256": source_sha256,
    }
    for key, value in (extra or {}).items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            attrs[f"colorarchive:{_prop(key)}"] = str(value)
    attr_text = "".join(f"\n    {k}={quoteattr(str(v))}" for k, v in attrs.items())
    hints = int((extra or {}).get("colour_hints", 0) or 0)
    strokes = int((extra or {}).get("colour_hint_strokes", 0) or 0)
    text = escape(description(model, model_version, source_name, desaturated, hints, strokes))
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:colorarchive="{NAMESPACE}"{attr_text}>
   <dc:description>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">{text}</rdf:li>
    </rdf:Alt>
   </dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return packet.encode("utf-8")
