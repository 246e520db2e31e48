"""`colorize-train eval` and the historical acceptance check, on tiny models and generated pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorization.checkpoint import load, save
from colorization.color import gray_to_lightness, rgb_to_lab
from colorization.models import UNet, UNetConfig
from tests.support.training_data import colour_image
from training.cli import main
from training.evaluate import evaluate, format_table
from training.historical_eval import evaluate_folder, gray_from_lightness


@pytest.fixture()
def tiny(tmp_path):
    torch.manual_seed(0)
    model = UNet(UNetConfig(width=4))
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.2, 0.3]))  # visible colour
    return save(tmp_path / "tiny.pt", model, name="tiny")


def lpips_linear_layers(path):
    """A stand-in for LPIPS's linear-layer file (vgg.pth), so the test needs nothing from ../shared."""
    chans = (64, 128, 256, 512, 512)
    torch.save({f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(chans)}, path)
    return path


def test_eval_on_a_split_reports_model_and_gray_side_by_side(tiny, dataset, tmp_path):
    done: list[int] = []
    report = evaluate(
        tiny,
        dataset,
        split="test",
        report_path=tmp_path / "r.json",
        lpips_weights=lpips_linear_layers(tmp_path / "vgg.pth"),
        lpips_backbone=tmp_path / "vgg16-397923af.pth",
        on_progress=done.append,
    )  # no backbone file
    assert report["images"] > 0 and report["split"] == "test"
    assert done == list(range(1, report["images"] + 1))
    m, g = report["model_metrics"], report["grayscale_metrics"]
    for key in ("mae", "psnr", "ssim", "colourfulness", "acc_eps", "ab_pearson"):
        assert key in m and key in g
    assert g["colourfulness"] < 1.0 < m["colourfulness"]  # gray output has (almost) none
    assert g["ab_pearson"] == 0.0
    assert "LPIPS unavailable" in report["lpips"] and "vgg16" in report["lpips"]
    assert json.loads((tmp_path / "r.json").read_text())["model_metrics"] == m
    assert (
        load(tiny)["metrics"][f"{dataset.name}:test"]["images"] == report["images"]
    )  # stored in the checkpoint
    assert load(tiny)["metrics"][f"{dataset.name}:test"]["data"] == dataset.name  # by name: no machine path
    by_source = report["by_source"]  # the film's frames come from the media folder, the pictures from images/
    assert set(by_source) <= {"images", dataset.parent.name, "media0"} and by_source
    assert sum(r["images"] for r in by_source.values()) == report["images"]
    assert all(
        r["grayscale_metrics"]["ab_pearson"] == 0.0 and "psnr" in r["model_metrics"]
        for r in by_source.values()
    )
    table = format_table(report)
    assert "| psnr |" in table and "grayscale" in table
    # listings (`colorize models`, the portal's models table) show the stored report's headline figures
    from colorization.zoo import describe, headline_metrics

    figures = headline_metrics(describe(tiny).metrics)
    assert figures == {
        "test_psnr": m["psnr"],
        "test_ab_pearson": m["ab_pearson"],
        "test_ssim": m["ssim"],
        "test_mae": m["mae"],
        "test_colourfulness": m["colourfulness"],
        "test_acc_eps": m["acc_eps"],
        "test_gray_psnr": g["psnr"],
    }


def test_eval_cli_on_a_folder_of_colour_images(tiny, media, tmp_path, capsys):
    assert (
        main(["eval", str(tiny), str(media["images"]), "--report", str(tmp_path / "r.json"), "--limit", "3"])
        == 0
    )
    assert "| ssim |" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["images"] == 3


def test_gray_from_lightness_inverts_the_lightness():
    L = np.linspace(0, 100, 101, dtype=np.float32)
    back = gray_to_lightness(gray_from_lightness(L).astype(np.float32) / 255.0)
    assert np.abs(back - L).max() < 0.5  # one 8-bit step


def test_historical_eval_runs_the_full_resolution_path_with_both_baselines(tiny, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(colour_image(50 + i, 90, 120)).save(photos / f"p{i}.png")
    report = evaluate_folder(
        photos, model=str(tiny), out_json=tmp_path / "h.json", pictures=tmp_path / "pics", n_pictures=2
    )
    m = report["mean"]
    assert report["photos"] == 3
    assert {"psnr_model", "psnr_gray", "psnr_tint", "colourfulness_model", "ab_pearson_model"} <= set(m)
    assert m["psnr_oracle_tint"] >= m["psnr_tint"] - 1e-6  # each photo's own mean ab is at least as good
    assert m["ab_pearson_gray"] == 0.0 and abs(m["ab_pearson_tint"]) < 0.02  # measured, not assumed
    assert set(report["criteria"]) >= {"psnr_beats_gray", "psnr_beats_tint", "colourfulness_ok", "all_met"}
    pic = Image.open(tmp_path / "pics" / report["pictures"][0])
    assert pic.height == 150 and pic.width > 3 * 150  # gray | model | truth
    out_lab = rgb_to_lab(np.asarray(pic.convert("RGB"), np.float32)[:, :10] / 255.0)
    assert np.abs(out_lab[..., 1:]).max() < 6  # the first panel is the gray input


def _photos(folder, n=2):
    folder.mkdir()
    for i in range(n):
        Image.fromarray(colour_image(70 + i, 72, 96)).save(folder / f"photo{i}.png")
    return folder


def test_eval_historical_record_stores_the_figures_in_the_checkpoint_and_keeps_the_rest(
    tiny, tmp_path, capsys
):
    from colorization.zoo import describe, headline_metrics

    before = torch.load(tiny, weights_only=True)
    photos = _photos(tmp_path / "historical_color")
    code = main(
        [
            "eval-historical",
            str(photos),
            "--model",
            str(tiny),
            "--record",
            "--report",
            str(tmp_path / "h.json"),
        ]
    )
    assert code in (0, 3)  # 3: the random model misses the criteria, which does not stop the recording
    assert "recorded in tiny.pt" in capsys.readouterr().out
    report = json.loads((tmp_path / "h.json").read_text())
    after = torch.load(tiny, weights_only=True)
    stored = after["metrics"]["historical"]
    assert stored["photos"] == 2 and stored["folder"] == "historical_color"  # by name: no machine path
    assert not any("/" in v for v in stored.values() if isinstance(v, str))
    m = report["mean"]
    assert stored["model_metrics"] == {
        "psnr": m["psnr_model"],
        "ssim": m["ssim_model"],
        "colourfulness": m["colourfulness_model"],
        "colourfulness_ratio": report["criteria"]["colourfulness_ratio"],
        "ab_pearson": m["ab_pearson_model"],
        "ab_pearson_a": m["ab_pearson_a_model"],
        "ab_pearson_b": m["ab_pearson_b_model"],
        "green_blue_recall": m["green_blue_recall_model"],
    }
    # everything else is kept as it was, the weights bit for bit
    assert (
        set(after) == set(before) | {"metrics"} and after["state_dict"].keys() == before["state_dict"].keys()
    )
    for k, v in before["state_dict"].items():
        assert after["state_dict"][k].dtype == v.dtype and torch.equal(after["state_dict"][k], v)
    assert {k: v for k, v in after.items() if k not in ("state_dict", "metrics")} == {
        k: v for k, v in before.items() if k not in ("state_dict", "metrics")
    }
    figures = headline_metrics(describe(tiny).metrics)  # what listings and the promotion page read
    assert (
        figures["historical_psnr"] == m["psnr_model"]
        and figures["historical_ab_pearson"] == m["ab_pearson_model"]
    )
    assert figures["historical_colourfulness_ratio"] == report["criteria"]["colourfulness_ratio"]
    assert figures["historical_gray_psnr"] == m["psnr_gray"]

    # a second recording replaces the first; figures with hints are never recorded
    main(["eval-historical", str(photos), "--model", str(tiny), "--record"])
    assert torch.load(tiny, weights_only=True)["metrics"]["historical"] == stored
    with pytest.raises(ValueError, match="without hints"):
        evaluate_folder(photos, model=str(tiny), hints=4, record=True)


def test_historical_eval_with_hints_reports_the_gain_and_the_leak_and_the_hint_table(tiny, tmp_path, capsys):
    from training.historical_eval import hint_table

    photos = _photos(tmp_path / "historical_color")
    report = evaluate_folder(photos, model=str(tiny), hints=2, placement="salient")
    assert report["hint_placement"] == "salient"
    rows = report["per_photo"]
    assert all(0.0 <= r["hint_leak"] <= 1.0 and r["hints_given"] <= 2 for r in rows)
    h = report["hints"]
    assert h["psnr_gain"] == round(report["mean"]["psnr_model"] - report["mean"]["psnr_without_hints"], 2)
    assert h["leak_max"] >= h["leak_mean"] and isinstance(h["leak_ok"], bool)
    table = hint_table(photos, model=str(tiny), counts=(1, 2))
    assert [r["hints"] for r in table] == [0, 1, 2]
    assert (
        table[0]["psnr_gain"] == 0.0 and table[0]["leak_mean"] == 0.0
    )  # no hints: nothing gained or spilled
    assert main(["eval-historical", str(photos), "--model", str(tiny), "--hint-table", "1"]) == 0
    assert "| 1 |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="placement"):
        evaluate_folder(photos, model=str(tiny), hints=2, placement="anywhere")
