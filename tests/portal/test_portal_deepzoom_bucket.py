"""Deep zoom tiles on remote storage: with the media store in an S3 bucket the worker writes each pyramid to a
scratch folder and uploads it (info.json last), the manifest names it, and taking it down deletes every key.

The bucket is moto's S3 server, a real HTTP server that django-storages' S3Storage (boto3) talks to as it talks
to MinIO or S3; it refuses anonymous reads of private objects, as they are uploaded. The bucket policy that opens
`iiif/image/` alone to anonymous reads (docker/tiles-bucket-policy.json, which compose's minio-bucket applies) is
put on the bucket as it is, and moto's server enforces a bucket policy on anonymous object reads (the statement's
Effect, Action and Resource; of the Principal only that it is "*" or names AWS): tiles open, everything else
403. What moto does not enforce (anonymous writes of new keys, listing) is checked on the document itself."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
import requests
import yaml
from moto.server import ThreadedMotoServer

from portal.catalog.models import Item
from portal.gallery import deepzoom
from portal.jobs.models import ColorModel
from tests.support import ROOT
from tests.support.catalog import add_item, add_result
from tests.support.proxy import COMPOSE
from workers.tasks import make_tiles

pytestmark = pytest.mark.django_db
BUCKET = "colorarchive"
IMAGE_URL = "https://archive.example/iiif/image"
POLICY = ROOT / "docker" / "tiles-bucket-policy.json"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(settings, s3_endpoint, tmp_path):
    """The media store in a fresh bucket, as settings.py configures it for S3_BUCKET."""
    credentials = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    client = boto3.client("s3", endpoint_url=s3_endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "file_overwrite": False,
                "default_acl": "private",
                "querystring_auth": True,
            },
        },
    }
    settings.IIIF_IMAGE_URL = IMAGE_URL
    settings.WORK_DIR = tmp_path / "work"
    yield client
    for key in _keys(client, ""):
        client.delete_object(Bucket=BUCKET, Key=key)
    client.delete_bucket(Bucket=BUCKET)


def _keys(client, prefix: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def test_the_worker_uploads_a_pyramid_to_the_bucket_and_the_manifest_names_it(
    bucket, s3_endpoint, client, tmp_path
):
    item = add_item(tmp_path, "Dock cranes")
    assert deepzoom.local_folder("item-1") is None, "remote storage: no local folder"
    assert _keys(bucket, "originals/"), "the original itself is in the bucket"
    prefix = f"iiif/image/item-{item.pk}/"
    assert not deepzoom.exists(f"item-{item.pk}") and not _keys(bucket, prefix)

    make_tiles(item.pk)

    keys = _keys(bucket, prefix)
    assert f"{prefix}info.json" in keys
    tiles = [k for k in keys if k.endswith("/default.jpg")]
    assert tiles and all(k.startswith(prefix) and "/0/default.jpg" in k for k in tiles), keys
    assert not [k for k in keys if "/." in k], "no scratch or hidden names uploaded"
    # the proxy asks the bucket for COLORARCHIVE_TILES_BUCKET_URL + the request's path (docker/nginx): that
    # path, /iiif/image/item-N/..., is the key the worker wrote
    info = json.load(bucket.get_object(Bucket=BUCKET, Key=f"{prefix}info.json")["Body"])
    assert info["id"] == f"{IMAGE_URL}/item-{item.pk}" and info["profile"] == "level0"
    assert (info["width"], info["height"]) == (96, 72)
    assert bucket.get_object(Bucket=BUCKET, Key=tiles[0])["Body"].read(3) == b"\xff\xd8\xff", "a JPEG tile"
    # uploaded private, as every media file: only the bucket's policy on iiif/image/ opens the tiles
    original = _keys(bucket, "originals/")[0]
    for key in (original, f"{prefix}info.json"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{s3_endpoint}/{BUCKET}/{key}")
        assert refused.value.code == 403, key

    manifest = client.get(f"/iiif/items/{item.pk}/manifest").json()
    body = manifest["items"][0]["items"][0]["items"][0]["body"]
    assert body["service"] == [
        {"id": f"{IMAGE_URL}/item-{item.pk}", "type": "ImageService3", "profile": "level0"}
    ]


def test_unpublishing_deletes_every_key_of_the_pyramid(
    bucket, client, tmp_path, django_capture_on_commit_callbacks
):
    item = add_item(tmp_path, "Dock cranes")
    other = add_item(tmp_path, "Tram street")
    make_tiles(item.pk)
    make_tiles(other.pk)
    assert _keys(bucket, f"iiif/image/item-{item.pk}/")

    with django_capture_on_commit_callbacks(execute=True):
        item.unpublish()

    assert item.status != Item.Status.PUBLISHED
    assert _keys(bucket, f"iiif/image/item-{item.pk}/") == []
    assert not deepzoom.exists(f"item-{item.pk}")
    assert _keys(bucket, f"iiif/image/item-{other.pk}/info.json"), "the other item's pyramid stays"


# ---------------------------------------------------------------- the bucket policy that opens the tiles


def _anonymous_status(s3_endpoint: str, key: str) -> int:
    """What a reader with no credentials gets for `key`: an unsigned GET, as nginx sends it."""
    return requests.get(f"{s3_endpoint}/{BUCKET}/{key}", timeout=30).status_code


def test_the_policy_document_grants_anonymous_reads_of_the_tiles_and_nothing_else():
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    [statement] = policy["Statement"]
    assert set(statement) == {"Sid", "Effect", "Principal", "Action", "Resource"}, "no Condition, no Not*"
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": ["*"]}
    assert statement["Action"] == ["s3:GetObject"], "no listing, no writes, no deletes"
    # the prefix ends in a slash: iiif/image-other/ or iiif/imagery are not opened
    assert statement["Resource"] == [f"arn:aws:s3:::{BUCKET}/iiif/image/*"]
    # compose's bucket is the one named, and its set-up job applies this file as it is
    compose = yaml.safe_load(COMPOSE.read_text())
    assert compose["x-app-env"]["S3_BUCKET"] == BUCKET
    job = compose["services"]["minio-bucket"]
    [mount] = job["volumes"]
    source, target, mode = mount.split(":")
    assert (COMPOSE.parent / source).resolve() == POLICY and mode == "ro"
    assert f"mc anonymous set-json {target} local/{BUCKET}" in job["command"][0]
    assert "mc anonymous set " not in job["command"][0], "no second, broader policy"


def test_with_the_policy_anonymous_readers_get_the_tiles_and_nothing_else(bucket, s3_endpoint, tmp_path):
    item = add_item(tmp_path, "Dock cranes")
    model = ColorModel.objects.create(name="unet", checkpoint="models/a.pt", is_default=True)
    add_result(tmp_path, item, model, approved=False)  # a colorization waiting for approval: private
    make_tiles(item.pk)
    tiles = _keys(bucket, "iiif/image/")
    private = [key for key in _keys(bucket, "") if not key.startswith("iiif/image/")]
    assert tiles and {key.split("/")[0] for key in private} >= {"originals", "results"}, private
    assert {_anonymous_status(s3_endpoint, key) for key in tiles + private} == {403}, "uploaded private"

    bucket.put_bucket_policy(Bucket=BUCKET, Policy=POLICY.read_text())

    for key in tiles:
        assert _anonymous_status(s3_endpoint, key) == 200, key
    for key in private:
        assert _anonymous_status(s3_endpoint, key) == 403, key
    bucket.put_object(Bucket=BUCKET, Key="iiif/image-drafts/x.jpg", Body=b"x", ACL="private")
    assert _anonymous_status(s3_endpoint, "iiif/image-drafts/x.jpg") == 403, (
        "a look-alike prefix stays closed"
    )
