"""Content Credentials: a C2PA manifest signed with a test key, added after all other metadata, read back with
c2pa's own Reader (and the XMP with ExifTool, to show the signing kept it)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from colorization import colorize_file, credentials, provenance
from tests.support.provenance import RIGHTS, assert_rights_and_ai_fields
from tests.support.signing import make_chain

pytestmark = pytest.mark.skipif(
    not credentials.available(), reason="c2pa-python not installed (pip install '.[c2pa]')"
)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return make_chain(tmp_path_factory.mktemp("keys"))


def _key(chain) -> credentials.SigningKey:
    return credentials.SigningKey(chain.key, chain.chain)


def _actions(manifest: dict) -> list[dict]:
    found = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    return found[0]["data"]["actions"]


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff"])
def test_a_signed_photo_reads_back_trusted_with_its_rights(tmp_path, samples, tiny_model, chain, fmt):
    src = samples["gray.png"]
    result = colorize_file(src, tmp_path / "out", model=str(tiny_model), format=fmt, rights=RIGHTS)
    signed = credentials.sign(
        result.dst, _key(chain), model="tiny", model_version="0.1", rights=RIGHTS, original=src
    )
    assert signed["c2pa_signer"] == "Test archive signer" and signed["c2pa_manifest"].startswith("urn:")

    manifest = credentials.read(result.dst, trust_anchors=chain.ca.read_text())
    assert manifest["validation_state"] == "Trusted"  # chain checked against the test CA
    assert credentials.read(result.dst)["validation_state"] == "Valid"  # no trust list: signature only
    assert manifest["label"] == signed["c2pa_manifest"] and manifest["title"] == RIGHTS.title
    opened, colorized = _actions(manifest)
    assert opened["action"] == "c2pa.opened"
    assert colorized["action"] == "c2pa.color_adjustments"
    assert colorized["digitalSourceType"] == provenance.DIGITAL_SOURCE_TYPE
    assert colorized["softwareAgent"] == {"name": "Colorarchive tiny", "version": "0.1"}
    assert [i["title"] for i in manifest["ingredients"]] == [src.name]
    assert manifest["ingredients"][0]["relationship"] == "parentOf"
    metadata = next(a["data"] for a in manifest["assertions"] if a["label"] == "cawg.metadata")
    assert metadata["dc:rights"] == RIGHTS.rights_text()
    assert metadata["xmpRights:WebStatement"] == RIGHTS.rights_uri
    assert metadata["photoshop:Credit"] == RIGHTS.credit_line
    assert metadata["dc:publisher"] == [RIGHTS.institution] and metadata["dc:identifier"] == RIGHTS.identifier

    if shutil.which("exiftool"):  # the XMP written before the manifest is still there, unchanged
        out = subprocess.run(
            ["exiftool", "-j", "-G1", "-n", "-a", str(result.dst)], capture_output=True, text=True
        )
        assert_rights_and_ai_fields(json.loads(out.stdout)[0])


def test_a_signed_film_reads_back(tmp_path, tiny_model, chain):
    from tests.support.media import make_film

    film = make_film(tmp_path / "tram.mp4", frames=6)
    result = colorize_file(film, tmp_path / "c.mp4", preset="film", model=str(tiny_model), rights=RIGHTS)
    credentials.sign(result.dst, _key(chain), model="tiny", rights=RIGHTS, original=film)
    manifest = credentials.read(result.dst, trust_anchors=chain.ca.read_text())
    assert manifest["validation_state"] == "Trusted"
    assert _actions(manifest)[1]["digitalSourceType"] == provenance.DIGITAL_SOURCE_TYPE
    assert manifest["ingredients"][0]["title"] == "tram.mp4"


def test_an_unsigned_file_has_no_manifest(tmp_path, samples, tiny_model):
    result = colorize_file(samples["gray.png"], tmp_path / "u.png", model=str(tiny_model))
    assert credentials.read(result.dst) is None


def test_a_refused_key_leaves_the_file_as_it_was(tmp_path, samples, tiny_model, chain):
    result = colorize_file(samples["gray.png"], tmp_path / "k.png", model=str(tiny_model))
    before = result.dst.read_bytes()
    (tmp_path / "keys").mkdir()
    broken = tmp_path / "keys" / "broken.pem"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(credentials.CredentialsError, match="signing k.png"):
        credentials.sign(result.dst, credentials.SigningKey(broken, chain.chain), model="tiny")
    assert result.dst.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.png", "keys"]  # no half-written file beside it


def test_a_container_c2pa_cannot_hold_is_refused_by_name(tmp_path, chain):
    film = tmp_path / "master.mkv"
    film.write_bytes(b"\x1a\x45\xdf\xa3")
    with pytest.raises(credentials.CredentialsError, match="cannot hold a manifest in a .mkv file"):
        credentials.sign(film, _key(chain), model="tiny")
