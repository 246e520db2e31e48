"""The deep zoom tiles behind the proxy compose runs: a real nginx from docker/nginx's template sends them from the
media folder itself (the app, which would answer 404, is never asked), with CORS for IIIF viewers elsewhere,
and answers 404 for a tile that is not there and for the hidden folders of a pyramid being written."""

from __future__ import annotations

import requests

from colorization.media.tiles import write_tiles
from tests.support.media import make_photo
from tests.support.proxy import needs_nginx, nginx_in_front_of, nginx_log


@needs_nginx
def test_nginx_sends_the_tiles_without_asking_the_app(live_server, transactional_db, tmp_path, settings):
    settings.SERVE_TILES = False  # the app's own answer for /iiif/image/ would be 404
    media = tmp_path / "media"
    write_tiles(
        make_photo(tmp_path / "quay.png", size=(700, 400)),
        media / "iiif/image/item-3",
        "https://x/iiif/image",
    )
    (media / "iiif/image/.item-4.incoming-ab").mkdir()
    (media / "iiif/image/.item-4.incoming-ab/info.json").write_text("{}")
    assert requests.get(f"{live_server.url}/iiif/image/item-3/info.json", timeout=30).status_code == 404

    def get(path: str) -> requests.Response:
        return requests.get(f"https://127.0.0.1:{port}{path}", headers={"Host": "localhost"}, verify=False,
                            timeout=30)  # fmt: skip

    with nginx_in_front_of(live_server, tmp_path / "nginx", media, 2048) as port:
        info = get("/iiif/image/item-3/info.json")
        tile = get("/iiif/image/item-3/512,0,188,400/188,400/0/default.jpg")
        hidden = get("/iiif/image/.item-4.incoming-ab/info.json")
        missing = get("/iiif/image/item-99/info.json")
    assert info.status_code == 200, nginx_log(tmp_path / "nginx")
    assert info.json()["id"] == "https://x/iiif/image/item-3"
    assert info.headers["Access-Control-Allow-Origin"] == "*"
    assert tile.status_code == 200 and tile.headers["Content-Type"] == "image/jpeg"
    assert tile.content[:2] == b"\xff\xd8"
    assert hidden.status_code == 404
    assert missing.status_code == 404, nginx_log(tmp_path / "nginx")
