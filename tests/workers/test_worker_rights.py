"""Rights travel with the file, end to end on the real parts: PostgreSQL, Redis and a real `celery worker` whose
institution and C2PA signing key come from its environment (a test chain made at test time). A photo and a film
(segments joined) are colorized; once approved and published, the public downloads each from the item page's
link and reads back what the file says: the institution, title, identifier, rights statement and credit line,
the IPTC AI fields and digital source type (ExifTool), and a C2PA manifest signed last (c2pa's Reader)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from django.core.files import File
from django.test import Client
from django.urls import reverse

from portal.catalog.ingest import add_item
from portal.jobs import services
from portal.jobs.models import ColorizationRequest, ColorModel, Status
from tests.support.media import make_film, make_photo
from tests.support.services import require_service, wait_for
from tests.support.signing import make_chain
from tests.support.worker import app_on_broker, celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
INSTITUTION = "Archives municipales de Saint-Étienne"
RIGHTS = "http://rightsstatements.org/vocab/InC-EDU/1.0/"


@pytest.fixture
def signing_worker(django_db_setup, tmp_path):

    from colorization import credentials

    require_service("postgresql", "the worker integration tests share the test database with the worker")
    require_service("redis", "the worker integration tests send tasks through Redis")
    if not credentials.available() or not shutil.which("exiftool"):
        pytest.skip("needs c2pa-python (the [c2pa] extra) and exiftool (libimage-exiftool-perl)")
    chain = make_chain(tmp_path / "keys")
    prefix, broker = f"colorarchive-rights-{os.getpid()}:", "redis://127.0.0.1:6379/15"
    env = {"COLORARCHIVE_INSTITUTION": INSTITUTION, "COLORARCHIVE_C2PA_KEY": str(chain.key),
           "COLORARCHIVE_C2PA_CERT": str(chain.chain), "COLORARCHIVE_URL": "https://archive.example.org"}  # fmt: skip
    with (
        app_on_broker(broker, prefix),
        celery_worker(broker, prefix, tmp_path / "w.log", "rights", **env) as w,
    ):
        w.chain = chain
        yield w


def _item(path, user, **fields):
    with open(path, "rb") as f:
        return add_item(File(f, name=path.name), user=user, **fields)


def test_a_published_colorization_downloads_with_its_rights_and_credentials(
    signing_worker, staff_user, tiny_model, tmp_path, settings
):
    from colorization import credentials

    settings.INSTITUTION_NAME, settings.PORTAL_URL = (
        INSTITUTION,
        "https://archive.example.org",
    )  # as the worker's

    model = ColorModel(name="tiny", info={"parameters": 1}, is_default=True)
    with open(tiny_model, "rb") as f:
        model.checkpoint.save("tiny.pt", File(f), save=True)
    photo = _item(make_photo(tmp_path / "quai_1911.png"), staff_user, title="Le quai, 1911",
                  source_archive=INSTITUTION, source_identifier="4Fi 1911/7", rights=RIGHTS)  # fmt: skip
    film = _item(make_film(tmp_path / "tram_1925.mp4", frames=10, gop=5), staff_user, title="Tramway, 1925",
                 rights=RIGHTS)  # fmt: skip
    reqs = [services.submit(staff_user, item, [model], {})[0] for item in (photo, film)]
    for req in reqs:
        req = wait_for(
            lambda pk=req.pk: ColorizationRequest.objects.filter(pk=pk).exclude(status__in=[Status.PENDING, Status.RUNNING]).first(),
            300, what=f"request {req.pk}", log=signing_worker.log,
        )  # fmt: skip
        assert req.status == Status.DONE, req.error
        assert req.provenance["c2pa_signer"] == "Test archive signer"
        req.approve(staff_user)
        req.item.publish()

    for item, req, identifier, credit in (
        (photo, reqs[0], "4Fi 1911/7", f"Courtesy of {INSTITUTION}, 4Fi 1911/7"),
        (film, reqs[1], f"https://archive.example.org/items/{film.pk}/", f"Courtesy of {INSTITUTION}"),
    ):
        public = Client()
        page = public.get(reverse("gallery:item", args=[item.pk])).content.decode()
        link = (
            re.search(r'href="([^"]+)"[^>]*data-download-colorization', page).group(1).replace("&amp;", "&")
        )
        response = public.get(link)
        assert response.status_code == 200
        name = ColorizationRequest.objects.get(pk=req.pk).result.name.rsplit("/", 1)[1]
        assert response["Content-Disposition"] == f'attachment; filename="{name}"'
        downloaded = tmp_path / name
        downloaded.write_bytes(b"".join(response.streaming_content))

        tags = json.loads(
            subprocess.run(
                ["exiftool", "-j", "-G1", "-n", "-a", str(downloaded)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout  # fmt: skip
        )[0]
        assert tags["XMP-dc:Title"] == item.title and tags["XMP-dc:Identifier"] == identifier
        assert tags["XMP-dc:Publisher"] == INSTITUTION and tags["XMP-photoshop:Source"] == INSTITUTION
        assert tags["XMP-dc:Rights"] == f"In Copyright - Educational Use Permitted ({RIGHTS})"
        assert tags["XMP-xmpRights:WebStatement"] == RIGHTS and tags["XMP-xmpRights:Marked"] is True
        assert tags["XMP-photoshop:Credit"] == credit
        assert tags["XMP-dc:Source"] == f"https://archive.example.org/items/{item.pk}/"
        assert tags["XMP-iptcExt:AISystemUsed"] == "Colorarchive tiny"
        version = ColorizationRequest.objects.get(pk=req.pk).provenance["model_version"]
        assert version and str(tags["XMP-iptcExt:AISystemVersionUsed"]) == version
        assert tags["XMP-iptcExt:DigitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")

        manifest = credentials.read(downloaded, trust_anchors=signing_worker.chain.ca.read_text())
        assert manifest["validation_state"] == "Trusted", manifest.get("validation_state")
        assert manifest["title"] == item.title
        assert manifest["ingredients"][0]["title"] == item.original_name
        metadata = next(a["data"] for a in manifest["assertions"] if a["label"] == "cawg.metadata")
        assert metadata["xmpRights:WebStatement"] == RIGHTS and metadata["photoshop:Credit"] == credit

        original = public.get(reverse("gallery:item_file", args=[item.pk, "original"]) + "?download=1")
        assert original["Content-Disposition"] == f'attachment; filename="{item.original_name}"'
