"""Deep zoom tiles on remote storage: with the media store in an S3 bucket the worker writes each pyramid to a
scratch folder and uploads it (info.json last), the manifest names it, and taking it down deletes every key.

The bucket is moto's S3 server, a real HTTP server that django-storages' S3Storage (boto3) talks to as it talks
to MinIO or S3; it refuses anonymous reads of private objects, as they are uploaded. The bucket policy that then
opens `iiif/image/` alone to anonymous reads is docker/compose.yaml's minio-bucket service's, not tested here."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from portal.catalog.models import Item
from portal.gallery import deepzoom
from tests.support.catalog import add_item
from workers.tasks import make_tiles

pytestmark = pytest.mark.django_db
BUCKET = "colorarchive"
IMAGE_URL = "https://archive.example/iiif/image"


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
