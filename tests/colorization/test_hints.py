"""Colour hints: the file format and its errors, the network's hint channels, and `colorize image --hints`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorization import checkpoint, hints, zoo
from colorization.cli import main
from colorization.color import rgb_to_lab
from colorization.models import UNet, UNetConfig


def write_hints(path, points) -> str:
    path.write_text(json.dumps({"points": points}))
    return str(path)


def test_a_hints_file_reads_as_points_with_their_chroma(tmp_path):
    path = write_hints(
        tmp_path / "h.json", [{"x": 0.25, "y": 0.5, "color": "#2F5A8A"}, {"x": 1, "y": 0, "color": "f00"}]
    )
    first, second = hints.load(path)
    assert (first.x, first.y, first.color) == (0.25, 0.5, "#2f5a8a")
    assert second.color == "#ff0000"
    lab = rgb_to_lab(np.array([[[0x2F, 0x5A, 0x8A]]], np.float32) / 255)[0, 0]
    assert first.ab == pytest.approx((lab[1], lab[2]), abs=1e-4)
    assert first.ab[1] < -20  # a blue: negative b


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"pts": []}', 'expected {"points"'),
        (
            '{"points": [{"x": 0.5, "y": 1.2, "color": "#112233"}]}',
            "point 1: y = 1.2 lies outside the picture",
        ),
        (
            '{"points": [{"x": 0.1, "y": 0.1, "color": "#112233"}, {"x": 0.5, "y": 0.5, "color": "blue"}]}',
            "point 2: colour 'blue' is not an sRGB hex colour",
        ),  # fmt: skip
        ('{"points": [{"x": "left", "y": 0.5, "color": "#112233"}]}', "point 1: x must be a number"),
    ],
)
def test_a_bad_hints_file_gets_an_error_naming_the_file_and_the_point(tmp_path, content, message):
    path = tmp_path / "bad.hints.json"
    path.write_text(content)
    with pytest.raises(hints.HintError) as caught:
        hints.load(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_render_draws_each_hint_as_a_small_square_with_a_mask():
    given = [hints.Hint(0.5, 0.25, "#2f5a8a")]
    channels = hints.render(given, 16, 32)
    assert channels.shape == (3, 16, 32)
    mask = channels[2]
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (2, 6, 14, 18)  # 5x5 around row 4, column 16
    a, b = given[0].ab
    assert channels[0, 4, 16] == pytest.approx(a / 128) and channels[1, 4, 16] == pytest.approx(b / 128)
    assert np.all(channels[:, mask == 0] == 0)


def test_follow_colours_the_hints_region_and_stops_at_its_edge():
    """Four red hints on a light left half: the whole half turns red, the dark right half stays as predicted."""
    lightness = np.full((64, 96), 70, np.float32)
    lightness[:, 48:] = 30
    predicted = np.zeros((64, 96, 2), np.float32)
    reds = [hints.Hint(x, y, "#c03030") for x, y in ((0.1, 0.2), (0.35, 0.25), (0.1, 0.8), (0.35, 0.75))]
    a = reds[0].ab[0]
    followed = hints.follow(predicted, lightness, reds)
    assert followed[:, :48, 0].mean() > 0.9 * a
    assert followed[:, 48:56, 0].mean() < 0.02 * a  # just across the edge
    # without the lightness and colour terms the same hints bleed over the edge as discs would
    discs = hints.follow(predicted, lightness, reds, how=hints.Following(lightness=0, colour=0, texture=0))
    assert discs[:, 48:56, 0].mean() > 0.5 * a
    # a single hint says less about the rest of the picture: it moves its surroundings, not the whole half
    one = hints.follow(predicted, lightness, reds[:1])
    assert 0 < one[:, :48, 0].mean() < 0.5 * followed[:, :48, 0].mean()
    assert np.array_equal(hints.follow(predicted, lightness, []), predicted)


def test_a_hint_on_a_patterned_thing_stays_off_the_smooth_thing_of_the_same_lightness_beside_it():
    """A patterned robe (lightness 45 and 55 in a fine check, mean 50) before a smooth wall of lightness 50: a
    hint on the robe colours the robe, not the wall, which only the texture term tells apart."""
    ys, xs = np.mgrid[:64, :96]
    lightness = np.where((ys // 2 + xs // 2) % 2 == 0, 45.0, 55.0).astype(np.float32)
    lightness[:, 48:] = 50.0
    predicted = np.zeros((64, 96, 2), np.float32)
    blue = [hints.Hint(0.35, 0.5, "#3060c0")]
    b = blue[0].ab[1]
    followed = hints.follow(predicted, lightness, blue)
    assert followed[24:40, 24:44, 1].mean() < 0.3 * b  # the robe around the hint turns blue
    assert abs(followed[:, 50:56, 1]).mean() < 0.01 * abs(b)  # the wall just beyond does not
    plain = hints.follow(predicted, lightness, blue, how=hints.Following(texture=0))
    assert abs(plain[:, 50:56, 1]).mean() > 0.05 * abs(b)  # without the term it did


def test_following_from_the_answers_with_and_without_hints_spreads_the_networks_discs():
    """A network answer that paints only a disc around each hint leaves following nothing to spread; mixed
    with the answer without hints, the hints' colour reaches the whole region, more evenly."""
    lightness = np.full((64, 96), 70, np.float32)
    lightness[:, 48:] = 30
    reds = [hints.Hint(x, y, "#c03030") for x, y in ((0.1, 0.2), (0.35, 0.25), (0.1, 0.8), (0.35, 0.75))]
    a = reds[0].ab[0]
    ys, xs = np.mgrid[:64, :96]
    with_hints = np.zeros((64, 96, 2), np.float32)
    for red in reds:
        with_hints[(ys - red.y * 64) ** 2 + (xs - red.x * 96) ** 2 <= 36] = red.ab
    without = np.zeros_like(with_hints)
    discs = hints.follow(with_hints, lightness, reds)[:, :48, 0]
    spread = hints.follow(with_hints, lightness, reds, unhinted=without)
    assert spread[:, :48, 0].mean() > 2 * discs.mean() and spread[:, :48, 0].std() < discs.std()
    assert spread[:, 48:56, 0].mean() < 0.02 * a  # still stops at the edge


def test_hints_sampled_from_the_truth_are_seeded_and_take_the_patch_colour():
    rgb = np.zeros((40, 60, 3), np.float32)
    rgb[:, :30] = (0.2, 0.4, 0.8)  # blue left half
    rgb[:, 30:] = (0.3, 0.6, 0.2)  # green right half
    one = hints.sample_from_truth(rgb, 10, seed=7)
    assert one == hints.sample_from_truth(rgb, 10, seed=7) and len(one) == 10
    for h in one:
        expected = "#3366cc" if h.x < 29 / 60 else "#4d9933" if h.x > 31 / 60 else None
        if expected:
            assert h.color == expected


def test_salient_hints_sit_on_what_stands_out_from_the_median_colour_and_keep_apart():
    rgb = np.full((80, 120, 3), 0.5, np.float32)  # a gray picture ...
    rgb[10:20, 10:20] = (0.8, 0.2, 0.2)  # ... with a red thing
    rgb[50:60, 80:90] = (0.2, 0.3, 0.8)  # ... and a blue one, each smaller than a tenth of the diagonal
    picks = hints.sample_from_truth(rgb, 2, seed=3, stand_out=20.0)
    assert picks == hints.sample_from_truth(rgb, 2, seed=3, stand_out=20.0) and len(picks) == 2
    inside = {("red" if h.y < 0.4 else "blue") for h in picks}
    for h in picks:
        x, y = h.x * 120, h.y * 80
        assert (10 <= x <= 20 and 10 <= y <= 20) or (80 <= x <= 90 and 50 <= y <= 60), (x, y)
    assert inside == {"red", "blue"}  # a tenth of the diagonal apart: not both on one small thing
    assert hints.sample_from_truth(np.full((40, 40, 3), 0.5, np.float32), 2, seed=0, stand_out=20.0) == []


def test_a_model_gains_zero_hint_channels_and_starts_where_it_was(tmp_path):
    from training.train import init_weights

    torch.manual_seed(0)
    plain = UNet(UNetConfig(width=4, head="bins", coords=True))
    path = checkpoint.save(tmp_path / "plain.pt", plain, name="plain")
    hinted = UNet(UNetConfig(width=4, head="bins", coords=True, hints=True))
    init_weights(hinted, path)
    L = torch.rand(1, 1, 32, 48)
    given = torch.from_numpy(hints.render([hints.Hint(0.5, 0.5, "#2f5a8a")], 32, 48))[None]
    with torch.no_grad():
        assert torch.allclose(plain(L), hinted(L))
        assert torch.allclose(hinted(L), hinted(L, hints=given))  # zero weights: hints change nothing yet


def test_head_stride_decodes_on_a_coarser_grid_at_the_input_size():
    torch.manual_seed(0)
    model = UNet(UNetConfig(width=4, head="bins", head_stride=2)).eval()
    L = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        ab = model(L)
        coarse = model.decode(model.logits(L, stride=2))
    assert ab.shape == (2, 2, 32, 48)
    assert torch.allclose(ab[..., 1:-1:2, 1:-1:2].mean(), coarse[..., :-1, :-1].mean(), atol=0.05)


@pytest.fixture
def hint_models(tmp_path, monkeypatch):
    """Models dir with a tiny model that takes hints (its hint channels trained to nothing in particular, but
    not zero, so hints change its output) and one that does not."""
    torch.manual_seed(1)
    folder = tmp_path / "models"
    folder.mkdir()
    model = UNet(UNetConfig(width=4, head="bins", coords=True, hints=True))
    with torch.no_grad():
        model.down[0][0].weight[:, 3:] = torch.randn_like(model.down[0][0].weight[:, 3:])
    checkpoint.save(folder / "hinted.pt", model, name="hinted")
    checkpoint.save(folder / "plain.pt", UNet(UNetConfig(width=4)), name="plain")
    (folder / "DEFAULT").write_text("hinted.pt")
    monkeypatch.setattr(zoo, "BUNDLED_DIR", tmp_path / "no-bundled")
    monkeypatch.setenv("COLORARCHIVE_MODELS", str(folder))
    return folder


def gray_photo(path, size=(64, 48)):
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    Image.fromarray((80 + 100 * x / size[0]).astype(np.uint8)).save(path)
    return path


def xmp_of(path) -> dict[str, str]:
    """The colorarchive properties of a PNG result's XMP packet (read with Pillow and ElementTree), and its
    dc:description as "description"."""
    from xml.etree import ElementTree

    from colorization.provenance import NAMESPACE

    root = ElementTree.fromstring(Image.open(path).info["XML:com.adobe.xmp"])
    found = root.find(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")
    props = {k.removeprefix("{" + NAMESPACE + "}"): v for k, v in found.attrib.items() if NAMESPACE in k}
    props["description"] = "".join(found.find("{http://purl.org/dc/elements/1.1/}description").itertext())
    return props


def xmp_description(path) -> str:
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Description", str(path)], capture_output=True, text=True)
    return json.loads(out.stdout)[0].get("Description", "")


def test_colorize_image_with_hints_says_so_in_the_provenance(tmp_path, hint_models):
    photo = gray_photo(tmp_path / "church.png")
    given = write_hints(tmp_path / "roof.json", [{"x": 0.2, "y": 0.2, "color": "#3b7a57"}] * 3)
    assert main(["image", str(photo), "-o", str(tmp_path / "plain"), "--format", "png", "-q"]) == 0
    assert main(["image", str(photo), "-o", str(tmp_path / "out"), "--format", "png", "--hints", given]) == 0
    plain = np.asarray(Image.open(tmp_path / "plain" / "church-colorized.png"))
    hinted = np.asarray(Image.open(tmp_path / "out" / "church-colorized.png"))
    assert not np.array_equal(plain, hinted)  # the hints reached the network
    if subprocess.run(["which", "exiftool"], capture_output=True).returncode == 0:
        assert "Staff gave 3 colour hints" in xmp_description(tmp_path / "out" / "church-colorized.png")
        assert "colour hint" not in xmp_description(tmp_path / "plain" / "church-colorized.png")


def test_a_bad_hints_file_writes_nothing_and_names_the_point(tmp_path, hint_models, capsys):
    photo = gray_photo(tmp_path / "flag.png")
    bad = write_hints(tmp_path / "flag.json", [{"x": 0.5, "y": 0.5, "color": "#zzzzzz"}])
    assert main(["image", str(photo), "-o", str(tmp_path / "out"), "--hints", bad]) != 0
    err = capsys.readouterr().err
    assert "flag.json, point 1: colour '#zzzzzz'" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_batch_uses_each_photos_sidecar_and_a_bad_one_stops_only_its_photo(tmp_path, hint_models, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b", "c"):
        gray_photo(folder / f"{name}.png")
    write_hints(folder / "a.hints.json", [{"x": 0.5, "y": 0.5, "color": "#aa2222"}])
    (folder / "b.hints.json").write_text("[1, 2")
    assert main(["image", str(folder), "-o", str(tmp_path / "out"), "--format", "png"]) != 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["a-colorized.png", "c-colorized.png"]
    assert "b.hints.json: not JSON" in capsys.readouterr().err
    a = np.asarray(Image.open(tmp_path / "out" / "a-colorized.png"))
    c = np.asarray(Image.open(tmp_path / "out" / "c-colorized.png"))
    assert not np.array_equal(a, c)  # same picture, only a had hints


def test_a_model_without_hint_channels_ignores_hints_with_a_note(tmp_path, hint_models, capsys):
    photo = gray_photo(tmp_path / "car.png")
    given = write_hints(tmp_path / "car.json", [{"x": 0.5, "y": 0.5, "color": "#102a60"}])
    args = ["image", str(photo), "--model", "plain", "--format", "png"]
    assert main([*args, "-o", str(tmp_path / "with"), "--hints", given]) == 0
    assert "plain takes no colour hints; the hints given are ignored" in capsys.readouterr().err
    assert main([*args, "-o", str(tmp_path / "without")]) == 0
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "with" / "car-colorized.png")),
        np.asarray(Image.open(tmp_path / "without" / "car-colorized.png")),
    )


def _moving_square_then_cut(n_before_cut: int = 10, n_after: int = 4):
    """Frames of a textured square moving 2 px right per frame, then a hard cut to another scene."""
    from colorization.frames import Frame

    rng = np.random.default_rng(3)
    texture = rng.integers(120, 255, (16, 16)).astype(np.uint8)
    for i in range(n_before_cut + n_after):
        image = np.full((64, 96), 40, np.uint8)
        if i < n_before_cut:
            image[20:36, 10 + 2 * i : 26 + 2 * i] = texture
        else:
            image[:] = rng.integers(0, 255, (64, 96)).astype(np.uint8)
        yield Frame(index=i, image=np.dstack([image] * 3))


def test_film_hints_start_at_their_keyframe_follow_the_motion_and_stop_at_a_cut():
    # placed on frame 2 at the square's centre: x = (14 + 8) / 96, y = 28 / 64
    keyframe = hints.Hint((10 + 4 + 8) / 96, 28 / 64, "#aa2222", frame=2)
    seen = {f.index: f.info.get("hints") for f in hints.carry(_moving_square_then_cut(), [keyframe])}
    assert seen[0] is None and seen[1] is None  # before its keyframe
    assert seen[2] == [keyframe]
    x7 = seen[7][0].x * 96
    assert abs(x7 - (22 + 2 * 5)) < 1.5  # five frames on, the point moved 10 px with the square
    assert seen[7][0].color == "#aa2222"
    assert all(seen[i] is None for i in range(10, 14))  # dropped at the scene cut


def test_a_point_with_a_bad_frame_number_is_refused():
    with pytest.raises(hints.HintError, match="point 1: frame must be a frame number"):
        hints.parse({"points": [{"x": 0.1, "y": 0.1, "color": "#123456", "frame": -3}]}, "film.hints.json")


def test_the_hint_spread_path_sees_each_hint_over_its_cells_and_starts_at_zero(tmp_path):
    from training.train import init_weights

    L = torch.rand(1, 1, 32, 32)
    given = torch.from_numpy(hints.render([hints.Hint(0.1, 0.1, "#2f5a8a")], 32, 32))[None]
    spread = UNet.spread_hints(L, given)
    assert spread.shape == (1, 10, 32, 32)
    a, b = given[0, 0, 3, 3], given[0, 1, 3, 3]
    # 16 px cells: the top-left cell holds the hint, the bottom-right one does not
    assert torch.allclose(spread[0, 4:6, 0, 0], torch.stack([a, b])) and spread[0, 6, 0, 0] > 0.6
    assert float(spread[0, 6, 31, 31]) < 0.2
    # the whole picture: the hint's colour everywhere, with little weight
    assert torch.allclose(spread[0, 7:9, 20, 20], torch.stack([a, b])) and float(spread[0, 9, 20, 20]) > 0.6

    torch.manual_seed(0)
    plain = UNet(UNetConfig(width=4, head="bins", hints=True))
    path = checkpoint.save(tmp_path / "hints.pt", plain, name="hints")
    spreading = UNet(UNetConfig(width=4, head="bins", hints=True, hint_spread=True))
    init_weights(spreading, path)
    with torch.no_grad():
        assert torch.allclose(plain(L, hints=given), spreading(L, hints=given))


# ---------------------------------------------------------------- strokes
BOX = [[0.1, 0.2], [0.4, 0.2], [0.4, 0.8], [0.1, 0.8]]  # a rectangle on the left of the picture


def test_points_and_strokes_mix_in_a_hints_file_and_dumps_writes_them_back(tmp_path):
    document = {
        "points": [{"x": 0.5, "y": 0.5, "color": "#2f5a8a"}, {"x": 0.9, "y": 0.1, "color": "#aa2222", "frame": 3}],
        "strokes": [
            {"points": [[0.1, 0.1], [0.2, 0.3], [0.3, 0.3]], "color": "#3B7A57"},
            {"points": BOX, "color": "#c03030", "closed": True, "frame": 2},
        ],
    }  # fmt: skip
    given = hints.load(write_document(tmp_path / "mixed.hints.json", document))
    assert len(given) == 4 and len(given.points) == 2 and len(given.strokes) == 2
    line, box = given.strokes
    assert line.points == ((0.1, 0.1), (0.2, 0.3), (0.3, 0.3)) and line.color == "#3b7a57" and not line.closed
    assert box.closed and box.frame == 2 and box.ab == hints.Hint(0, 0, "#c03030").ab
    assert [type(m) for m in given] == [hints.Hint, hints.Hint, hints.Stroke, hints.Stroke]
    again = hints.parse(json.loads(hints.dumps(given)))
    assert again == given
    assert "strokes" not in json.loads(hints.dumps(given.points))  # a points-only file is written as before


def write_document(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


@pytest.mark.parametrize(
    ("stroke", "message"),
    [
        ({"points": [[0.1, 0.1]], "color": "#112233"}, "stroke 1: 1 vertices; a stroke takes a list of 2 to"),
        (
            {"points": [[0.1, 0.1], [0.2, 0.2]], "color": "#112233", "closed": True},
            "stroke 1: 2 vertices; a closed stroke (a region) takes a list of 3 to",
        ),
        (
            {"points": [[0.1, 0.1]] * (hints.MAX_VERTICES + 1), "color": "#112233"},
            f"stroke 1: {hints.MAX_VERTICES + 1} vertices",
        ),
        (
            {"points": [[0.1, 0.1], [0.2, 1.5]], "color": "#112233"},
            "stroke 1, vertex 2: y = 1.5 lies outside",
        ),
        ({"points": [[0.1, 0.1], [0.2]], "color": "#112233"}, "stroke 1, vertex 2: expected [x, y]"),
        ({"points": [[0.1, 0.1], ["a", 0.2]], "color": "#112233"}, "stroke 1, vertex 2: x must be a number"),
        ({"points": [[0.1, 0.1], [0.2, 0.2]], "color": "red"}, "stroke 1: colour 'red' is not an sRGB"),
        (
            {"points": [[0.1, 0.1], [0.2, 0.2]], "color": "#112233", "closed": "yes"},
            "stroke 1: closed must be",
        ),
        ({"points": "0.1 0.1", "color": "#112233"}, "stroke 1: points '0.1 0.1'; a stroke takes a list"),
    ],
)
def test_a_bad_stroke_gets_an_error_naming_the_file_and_the_stroke(tmp_path, stroke, message):
    path = write_document(tmp_path / "bad.hints.json", {"strokes": [stroke]})
    with pytest.raises(hints.HintError) as caught:
        hints.load(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_hints_file_with_an_unknown_key_or_too_many_strokes_is_refused():
    with pytest.raises(hints.HintError, match=r"unknown key\(s\) \['strenght'\]"):
        hints.parse({"points": [], "strenght": 1.2}, "h.json")
    many = [{"points": [[0.1, 0.1], [0.2, 0.2]], "color": "#112233"}] * (hints.MAX_STROKES + 1)
    with pytest.raises(hints.HintError, match=f"{hints.MAX_STROKES + 1} strokes; at most"):
        hints.parse({"strokes": many}, "h.json")


def test_render_draws_an_open_stroke_as_a_thick_line_and_fills_a_closed_one():
    line = hints.Stroke(((0.125, 0.25), (0.875, 0.25)), "#2f5a8a")  # rows 4 of 16, columns 4..28 of 32
    channels = hints.render([line], 16, 32)
    ys, xs = np.nonzero(channels[2])
    assert (ys.min(), ys.max()) == (2, 6)  # 2 * HINT_RADIUS + 1 thick
    assert xs.min() <= 4 and xs.max() >= 28 and channels[2, 4, 4:29].all()
    assert channels[0, 4, 16] == pytest.approx(line.ab[0] / 128) and channels[2, 12:].sum() == 0
    box = hints.Stroke(tuple(map(tuple, BOX)), "#c03030", closed=True)
    mask = hints.render([box], 40, 50)[2]
    assert mask[8:32, 5:20].all()  # the inside, not only the outline
    assert mask[:, 25:].sum() == 0 and mask[:5].sum() == 0 and mask[36:].sum() == 0
    opened = hints.render([hints.Stroke(box.points, box.color)], 40, 50)[2]
    assert opened[20, 12] == 0  # an open stroke along the same vertices leaves the inside alone


def test_follow_gives_a_closed_strokes_region_its_colour_in_full_and_stops_at_the_edge():
    lightness = np.full((64, 96), 70, np.float32)
    lightness[:, 48:] = 30
    predicted = np.zeros((64, 96, 2), np.float32)
    predicted[..., 1] = 10  # a yellowish prediction
    box = hints.Stroke(tuple(map(tuple, BOX)), "#c03030", closed=True)
    followed = hints.follow(predicted, lightness, [box])
    inside = box.cover(64, 96)
    assert np.allclose(followed[inside], box.ab, atol=1e-3)
    assert np.abs(followed[:, 52:] - predicted[:, 52:]).max() < 1.0  # across the edge: as predicted
    line = hints.Stroke(((0.05, 0.5), (0.3, 0.5)), "#c03030")
    drawn = hints.follow(predicted, lightness, [line])
    assert np.allclose(drawn[line.cover(64, 96)], line.ab, atol=1e-3)


def test_film_strokes_move_with_the_motion_and_stop_at_a_cut():
    # a short stroke across the square on frame 2 (square spans x 14..30, y 20..36)
    stroke = hints.Stroke(((16 / 96, 24 / 64), (28 / 96, 32 / 64)), "#aa2222", frame=2)
    seen = {f.index: f.info.get("hints") for f in hints.carry(_moving_square_then_cut(), [stroke])}
    assert seen[1] is None and seen[2] == [stroke]
    (moved,) = seen[7]
    shift = np.array(moved.points) * (96, 64) - np.array(stroke.points) * (96, 64)
    assert np.allclose(shift, [(10, 0), (10, 0)], atol=1.5)  # both vertices moved 10 px with the square
    assert isinstance(moved, hints.Stroke) and moved.color == "#aa2222"
    assert all(seen[i] is None for i in range(10, 14))


def test_colorize_image_with_a_sidecar_of_points_and_a_stroke_lists_them_in_the_xmp(tmp_path, hint_models):
    folder = tmp_path / "in"
    folder.mkdir()
    photo = gray_photo(folder / "tower.png")
    document = {
        "points": [{"x": 0.2, "y": 0.2, "color": "#3b7a57"}, {"x": 0.7, "y": 0.3, "color": "#3b7a57"}],
        "strokes": [{"points": BOX, "color": "#c03030", "closed": True}],
    }
    write_document(folder / "tower.hints.json", document)
    assert main(["image", str(photo), "-o", str(tmp_path / "out"), "--format", "png", "-q"]) == 0
    result = tmp_path / "out" / "tower-colorized.png"
    xmp = xmp_of(result)
    assert "Staff gave 2 colour hints and 1 stroke, which the colours follow." in xmp["description"]
    assert hints.parse(json.loads(xmp["ColourHintPoints"])) == hints.parse(document)
    assert xmp["ColourHintStrokes"] == "1"


@pytest.fixture(scope="module")
def default_stage():
    """The unet stage with the shipped default model on the CPU (skipped if that model takes no hints)."""
    from colorization.stages.colorize import UNetColorizer

    stage = UNetColorizer(checkpoint=zoo.resolve_model("default"), device="cpu")
    if not stage.takes_hints:
        pytest.skip("the default model takes no colour hints")
    return stage


def two_tones(height: int = 224, width: int = 288) -> np.ndarray:
    """A grey picture of two flat regions, light on the left and dark on the right, as RGB uint8."""
    gray = np.full((height, width), 150, np.uint8)
    gray[:, width // 2 :] = 90
    return np.dstack([gray] * 3)


def network_ab(stage, image: np.ndarray, given=None, strength: float | None = None) -> np.ndarray:
    from colorization.frames import Frame

    frame = Frame(index=0, image=image)
    if given:
        frame.info["hints"] = list(given)
    if strength is not None:
        frame.info["strength"] = strength
    return next(stage(iter([frame]))).ab


def test_the_default_model_colours_a_closed_strokes_region_and_leaves_the_other_side_as_it_was(default_stage):
    image = two_tones()
    box = hints.Stroke(tuple(map(tuple, BOX)), "#c03030", closed=True)
    plain, hinted = network_ab(default_stage, image), network_ab(default_stage, image, [box])
    h, w = plain.shape[:2]
    inside = box.cover(h, w)
    assert np.allclose(hinted[inside].mean(0), box.ab, atol=3.0)  # red inside
    assert np.abs(plain[inside].mean(0) - box.ab).max() > 20  # which the network alone did not give
    other = (slice(None), slice(w // 2 + 8, None))  # the dark side, beyond the edge
    assert np.abs(hinted[other] - plain[other]).mean() < 1.5


def test_where_no_hint_reaches_the_picture_keeps_the_answer_without_hints():
    """A network that spreads one hint over the whole picture: following keeps that only where the hint reaches."""
    lightness = np.full((64, 96), 70, np.float32)
    lightness[:, 48:] = 30
    red = hints.Hint(0.2, 0.5, "#c03030")
    without = np.zeros((64, 96, 2), np.float32)
    with_hints = without + (20.0, 0.0)  # redder everywhere
    followed = hints.follow(with_hints, lightness, [red], unhinted=without)
    assert np.abs(followed[:, 52:]).max() < 0.5  # the dark side, which the hint does not reach
    assert followed[28:36, 16:24, 0].mean() > 0.4 * red.ab[0]  # around the hint: towards its colour


# ---------------------------------------------------------------- reach
def test_a_hints_reach_is_read_checked_and_written_back_and_medium_is_the_default():
    document = {
        "points": [{"x": 0.5, "y": 0.5, "color": "#2f5a8a", "reach": "small"}, {"x": 0.1, "y": 0.1, "color": "#aa2222"}],
        "strokes": [{"points": BOX, "color": "#c03030", "closed": True, "reach": "region"}],
    }  # fmt: skip
    given = hints.parse(document)
    assert [m.reach for m in given] == ["small", "medium", "region"]
    assert hints.parse(json.loads(hints.dumps(given))) == given
    assert "reach" not in json.loads(hints.dumps(given))["points"][1]  # the default is not written
    with pytest.raises(
        hints.HintError, match="h.json, stroke 1: reach 'huge' must be one of 'small', 'medium'"
    ):
        hints.parse({"strokes": [{**document["strokes"][0], "reach": "huge"}]}, "h.json")
    with pytest.raises(hints.HintError, match="point 1: reach 3 must be one of"):
        hints.parse({"points": [{"x": 0.5, "y": 0.5, "color": "#2f5a8a", "reach": 3}]}, "h.json")


def test_a_longer_reach_spreads_a_hint_further_in_the_picture():
    lightness = np.full((64, 128), 60, np.float32)
    predicted = np.zeros((64, 128, 2), np.float32)
    spread = {}
    for reach in hints.REACH:
        followed = hints.follow(predicted, lightness, [hints.Hint(0.1, 0.5, "#c03030", reach=reach)])
        spread[reach] = followed[:, 40:60, 0].mean()  # some way off the hint
    assert 0 < spread["small"] < spread["medium"] < spread["region"]
    default = hints.follow(predicted, lightness, [hints.Hint(0.1, 0.5, "#c03030")])
    assert np.array_equal(
        default, hints.follow(predicted, lightness, [hints.Hint(0.1, 0.5, "#c03030", 0, "medium")])
    )


# ---------------------------------------------------------------- strength
def test_a_hints_file_may_hold_the_colour_strength_in_its_range():
    given = hints.parse({"points": [{"x": 0.5, "y": 0.5, "color": "#2f5a8a"}], "strength": 1.2})
    assert given.strength == 1.2 and len(given) == 1
    assert hints.parse(json.loads(hints.dumps(given))) == given
    alone = hints.parse({"strength": 0.8})  # strength alone: no points, no strokes
    assert alone.strength == 0.8 and not alone
    assert "strength" not in json.loads(hints.dumps(hints.parse({"points": []})))
    for bad in (2, 0.1, "vivid", True):
        with pytest.raises(
            hints.HintError, match=r"h.json, strength: .* must be a number from 0.5 \(muted\) to 1.5"
        ):
            hints.parse({"strength": bad}, "h.json")


def test_strength_scales_the_networks_colour_but_not_what_a_stroke_holds():
    lightness = np.full((64, 96), 70, np.float32)
    lightness[:, 48:] = 30
    predicted = np.zeros((64, 96, 2), np.float32) + (5.0, 20.0)
    box = hints.Stroke(tuple(map(tuple, BOX)), "#c03030", closed=True)
    vivid = hints.follow(predicted, lightness, [box], strength=1.4)
    assert np.allclose(vivid[box.cover(64, 96)], box.ab, atol=1e-3)
    assert np.allclose(vivid[:, 56:], predicted[:, 56:] * 1.4, atol=0.2)
    assert np.allclose(hints.follow(predicted, lightness, [], strength=0.5), predicted * 0.5)


def chroma(ab: np.ndarray) -> float:
    return float(np.hypot(ab[..., 0], ab[..., 1]).mean())


def test_with_the_default_model_strength_livens_unhinted_areas_and_leaves_hinted_pixels(default_stage):
    image = two_tones()
    box = hints.Stroke(tuple(map(tuple, BOX)), "#3060c0", closed=True)
    usual = network_ab(default_stage, image, [box])
    vivid = network_ab(default_stage, image, [box], strength=1.3)
    h, w = usual.shape[:2]
    other = (slice(None), slice(w // 2 + 8, None))
    assert chroma(vivid[other]) > 1.2 * chroma(usual[other]) > 0
    inside = box.cover(h, w)
    assert np.abs(vivid[inside] - usual[inside]).mean() < 1.0


def test_colorize_image_strength_goes_into_the_xmp_and_a_sidecars_strength_wins(
    tmp_path, hint_models, capsys
):
    photo = gray_photo(tmp_path / "mill.png")
    args = ["image", str(photo), "--format", "png", "-q"]
    assert main([*args, "-o", str(tmp_path / "plain")]) == 0
    assert main([*args, "-o", str(tmp_path / "vivid"), "--strength", "1.4"]) == 0
    assert "ColourStrength" not in xmp_of(tmp_path / "plain" / "mill-colorized.png")
    assert xmp_of(tmp_path / "vivid" / "mill-colorized.png")["ColourStrength"] == "1.4"
    assert not np.array_equal(
        np.asarray(Image.open(tmp_path / "plain" / "mill-colorized.png")),
        np.asarray(Image.open(tmp_path / "vivid" / "mill-colorized.png")),
    )
    write_document(tmp_path / "mill.hints.json", {"strength": 0.7})
    assert main([*args, "-o", str(tmp_path / "sidecar"), "--strength", "1.4"]) == 0
    assert xmp_of(tmp_path / "sidecar" / "mill-colorized.png")["ColourStrength"] == "0.7"
    assert main([*args, "-o", str(tmp_path / "bad"), "--strength", "3"]) == 2
    assert "must be a number from 0.5 (muted) to 1.5 (vivid)" in capsys.readouterr().err


def test_a_film_takes_strokes_points_and_strength_end_to_end(tmp_path, hint_models):
    """Numbered frames of a moving square, with a stroke and a point on keyframes and a strength."""
    folder = tmp_path / "scans"
    folder.mkdir()
    for frame in _moving_square_then_cut(n_before_cut=6, n_after=2):
        Image.fromarray(frame.image).save(folder / f"frame{frame.index:03d}.png")
    document = {
        "points": [{"x": 0.25, "y": 0.45, "color": "#aa2222", "frame": 1}],
        "strokes": [{"points": [[0.17, 0.38], [0.29, 0.5]], "color": "#2f5a8a", "reach": "small"}],
        "strength": 1.3,
    }
    given = write_document(tmp_path / "reel.hints.json", document)
    out = tmp_path / "reel.mkv"
    assert main(["video", str(folder), "-o", str(out), "--fps", "12", "--hints", given, "-q"]) == 0
    import av

    with av.open(str(out)) as film:
        comment = " ".join(str(v) for v in film.metadata.values())
        assert sum(1 for _ in film.decode(video=0)) == 8
    assert "Staff gave 1 colour hint and 1 stroke" in comment and "colour strength 1.3" in comment


def dark_patch(L: np.ndarray, size: int = 9, target: float = 30.0) -> tuple[int, int]:
    """The centre (row, column) of the smoothest size x size patch whose mean lightness lies near `target`,
    away from the borders: a dark, even thing in the photo."""
    import cv2

    mean = cv2.blur(L, (size, size))
    spread = np.sqrt(np.maximum(cv2.blur(L * L, (size, size)) - mean * mean, 0))
    score = np.abs(mean - target) + spread
    h, w = L.shape
    margin = max(size, min(h, w) // 10)
    inner = score[margin:-margin, margin:-margin]
    y, x = np.unravel_index(np.argmin(inner), inner.shape)
    return int(y) + margin, int(x) + margin


def test_a_light_hint_colour_on_a_dark_thing_keeps_its_hue_and_chroma_at_that_lightness(
    default_stage, capsys
):
    """A skin colour given on a dark part of a real photograph comes out as that colour at the thing's own
    lightness: the hue of the hint (CIELAB hue angle) and its chroma as far as sRGB allows at that lightness."""
    from colorization.color import lab_to_rgb
    from colorization.stages.postprocess import lab_to_srgb_keep_l, merge_luma

    photo = (
        Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "historical_color" / "pg_00153v.jpg"
    )
    if not photo.exists():
        pytest.skip(f"real archive photos not present at {photo.parent} (see ../shared/data/MANIFEST.md)")
    with Image.open(photo) as im:
        lab = rgb_to_lab(np.asarray(im.convert("RGB"), np.float32) / 255.0)
    gray = np.clip(np.rint(lab_to_rgb(lab * [1, 0, 0]) * 255), 0, 255).astype(np.uint8)
    L = lab[..., 0].astype(np.float32)
    y, x = dark_patch(L)
    h, w = L.shape
    skin = hints.Hint((x + 0.5) / w, (y + 0.5) / h, "#e8b89a")  # a light skin colour, L about 79
    out = merge_luma(gray, network_ab(default_stage, gray, [skin]))
    got = rgb_to_lab(out[y - 2 : y + 3, x - 2 : x + 3].astype(np.float32) / 255.0).reshape(-1, 3)
    # what the hint asks at these pixels' own lightness: its a and b, chroma reduced where sRGB has less
    asked = rgb_to_lab(lab_to_srgb_keep_l(got[:, 0], np.tile(np.float32(skin.ab), (len(got), 1)))[None])[0]
    hue = np.degrees(np.arctan2(got[:, 2].mean(), got[:, 1].mean()))
    hue_asked = np.degrees(np.arctan2(skin.ab[1], skin.ab[0]))
    ratio = np.hypot(*got[:, 1:].mean(0)) / np.hypot(*asked[:, 1:].mean(0))
    with capsys.disabled():
        print(
            f"\nskin hint on L {got[:, 0].mean():.0f}: hue {hue:.1f} deg (asked {hue_asked:.1f}), "
            f"chroma {ratio:.0%} of what sRGB allows there"
        )
    assert got[:, 0].mean() < 45  # a dark thing
    assert abs(hue - hue_asked) < 4.0
    assert 0.85 < ratio < 1.15
