"""Content Credentials: a C2PA manifest, signed with the institution's key, added to a finished colorization.

It goes on last, after every other piece of metadata: the manifest holds a hash of the file, so anything written
afterwards would break it. It says that the file was made from the original (a parent ingredient, hashed, with
a thumbnail) by a colour adjustment whose digital source type is IPTC's compositeWithTrainedAlgorithmicMedia,
by which model (software agent) and version; a `cawg.metadata` assertion repeats the title, identifier, rights
statement and credit line of the file's XMP, so they are signed too.

Needs the optional `c2pa-python` package (`pip install '.[c2pa]'`); `available()` says whether it is there.
The key and its certificate chain are PEM files; the chain starts with the signing certificate, then the CAs
that issued it: a reader calls the manifest "Trusted" when the chain ends at a CA on its trust list, "Valid"
when only the signature checks out. Without a timestamp authority (`tsa_url`) a reader trusts the signature
only while the certificate is valid.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorization.media.files import atomic_path
from colorization.provenance import DIGITAL_SOURCE_TYPE, SOFTWARE, Rights, _version, ai_system, description

ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
METADATA_CONTEXT = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
}


class CredentialsError(Exception):
    """The file could not be signed: the key, the certificates or the file's type; the message says which."""


@dataclass(frozen=True)
class SigningKey:
    key: Path  # PEM private key
    certificates: Path  # PEM chain: the signing certificate first, then the CAs that issued it
    algorithm: str = "es256"  # one of ALGORITHMS, matching the key
    tsa_url: str = ""  # an RFC 3161 timestamp authority; empty: no timestamp


def available() -> bool:
    """Whether c2pa-python is installed."""
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return False
    return True


def media_type(path: str | os.PathLike) -> str | None:
    """The file's MIME type if C2PA can hold a manifest in it, else None (e.g. Matroska films)."""
    import c2pa

    kind = mimetypes.guess_type(str(path))[0]
    return kind if kind in c2pa.Builder.get_supported_mime_types() else None


def manifest_definition(
    path: Path, model: str, model_version: str, source_name: str, rights: Rights | None, parent: bool
) -> dict[str, Any]:
    """The manifest's JSON definition (c2pa-rs's ManifestDefinition)."""
    rights = rights or Rights()
    colorized = {
        "action": "c2pa.color_adjustments",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": {"name": ai_system(model), **({"version": model_version} if model_version else {})},
        "description": description(model, model_version, source_name),
    }
    first = (
        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["original"]}}
        if parent
        else {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE}
    )
    metadata = {
        "dc:title": rights.title,
        "dc:identifier": rights.identifier,
        "dc:publisher": [rights.institution] if rights.institution else [],
        "dc:rights": rights.rights_text(),
        "xmpRights:WebStatement": rights.rights_uri,
        "photoshop:Credit": rights.credit_line,
        "photoshop:Source": rights.institution,
    }
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions.v2", "data": {"actions": [first, colorized]}}]
    if any(metadata.values()):
        data = {"@context": METADATA_CONTEXT, **{k: v for k, v in metadata.items() if v}}
        assertions.append({"label": "cawg.metadata", "data": data})
    return {
        "claim_generator_info": [{"name": SOFTWARE, "version": _version()}],
        "title": rights.title or path.name,
        "assertions": assertions,
    }


def sign(
    path: str | os.PathLike,
    signing: SigningKey,
    *,
    model: str,
    model_version: str = "",
    rights: Rights | None = None,
    original: str | os.PathLike | None = None,
    original_name: str = "",
) -> dict[str, str]:
    """Add a signed manifest to the finished file at `path`, in place (atomically: on any error the file is
    left as it was). `original`: the file it was colorized from, recorded as its parent ingredient when
    C2PA reads its type. Returns what the staff record keeps: the manifest's label and the signer."""
    import c2pa

    path = Path(path)
    kind = media_type(path)
    if kind is None:
        raise CredentialsError(
            f"{path.name}: C2PA cannot hold a manifest in a {path.suffix or 'typeless'} file"
        )
    parent_kind = media_type(Path(original_name or original)) if original else None
    definition = manifest_definition(
        path, model, model_version, original_name or (Path(original).name if original else ""), rights,
        parent=parent_kind is not None,
    )  # fmt: skip
    try:
        alg = c2pa.C2paSigningAlg[signing.algorithm.upper()]
    except KeyError:
        raise CredentialsError(
            f"unknown signing algorithm {signing.algorithm!r}; use one of {ALGORITHMS}"
        ) from None
    try:
        info = c2pa.C2paSignerInfo(
            alg,
            Path(signing.certificates).read_bytes(),
            Path(signing.key).read_bytes(),
            signing.tsa_url or None,
        )
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(definition) as builder:
            if parent_kind is not None:
                with open(original, "rb") as fh:
                    ingredient = {"title": original_name or Path(original).name, "relationship": "parentOf"}
                    builder.add_ingredient({**ingredient, "label": "original"}, parent_kind, fh)
            with atomic_path(path) as tmp, open(path, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(signer, kind, src, dst)
    except OSError as exc:
        raise CredentialsError(f"signing {path.name}: {exc}") from exc
    except c2pa.C2paError as exc:
        raise CredentialsError(f"signing {path.name}: {exc}") from exc
    manifest = read(path)
    signer_info = (manifest or {}).get("signature_info", {})
    return {
        "c2pa_manifest": (manifest or {}).get("label", ""),
        "c2pa_signer": signer_info.get("common_name", ""),
    }


def read(path: str | os.PathLike, trust_anchors: str = "") -> dict[str, Any] | None:
    """The file's active manifest, with its `validation_state` ("Invalid", "Valid" or, when its chain ends at
    one of the PEM `trust_anchors`, "Trusted"); None when the file holds none."""
    import c2pa

    context = None
    if trust_anchors:
        context = c2pa.Context.from_dict(
            {"trust": {"trust_anchors": trust_anchors}, "verify": {"verify_trust": True}}
        )
    try:
        with c2pa.Reader(str(path), context=context) as reader:
            manifest = reader.get_active_manifest()
            if manifest is None:
                return None
            return {**manifest, "validation_state": reader.get_validation_state()}
    except c2pa.C2paError.ManifestNotFound:
        return None
