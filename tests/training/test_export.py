"""export(): decoding (temperature, chroma gain, mirror averaging, ab smoothing) tuned on validation, fp16 weights, DEFAULT written, loadable by the model zoo."""

from __future__ import annotations

import torch

from colorization.checkpoint import load_model, save
from colorization.models import UNet, UNetConfig
from colorization.zoo import resolve_model
from training.export import export


def test_export_tunes_and_names_the_default(dataset, tmp_path):
    torch.manual_seed(0)
    src = save(
        tmp_path / "run" / "best.pt",
        UNet(UNetConfig(width=4, head="bins")),
        name="tiny-bins",
        train_config={"temperature_candidates": [0.25, 0.9], "chroma_gain_candidates": [1.0, 1.4]},
    )
    info = export(
        src, tmp_path / "weights" / "tiny-bins-v1.pt", dataset=dataset, make_default=True, tune_frames=4
    )
    assert info["temperature"] in (0.25, 0.9)
    assert (tmp_path / "weights" / "DEFAULT").read_text().strip() == "tiny-bins-v1.pt"
    model, ckpt = load_model(tmp_path / "weights" / "tiny-bins-v1.pt")
    assert model.config.temperature == info["temperature"] == ckpt["model_args"]["temperature"]
    assert model.config.chroma_gain == info["chroma_gain"] == ckpt["model_args"]["chroma_gain"]
    assert model.config.flip_average == info["flip_average"] == ckpt["model_args"]["flip_average"]
    assert model.config.ab_smoothing == info["ab_smoothing"] == ckpt["model_args"]["ab_smoothing"]
    assert next(iter(ckpt["state_dict"].values())).dtype == torch.float16
    assert ckpt["train_summary"]["decoding_tuning"]["frames"] == 4
    assert (
        resolve_model("default", tmp_path / "weights") == (tmp_path / "weights" / "tiny-bins-v1.pt").resolve()
    )


def test_decoding_tuning_keeps_the_most_faithful_colour_among_the_accurate(dataset):
    from training.data import FrameDataset
    from training.decoding import tune_decoding

    torch.manual_seed(1)
    model = UNet(UNetConfig(width=4, head="bins", coords=True, prior=True))
    with torch.no_grad():
        model.prior[4].weight.normal_(0, 0.5)  # some colour that varies across the frame
    choice = tune_decoding(
        model,
        FrameDataset(dataset, "val"),
        [0.3, 1.0],
        0.0,
        4,
        gains=[1.0, 1.5],
        mirror=True,
        smoothings=[0.0, 3.0],
    )
    table = choice["table"]
    assert len(table) == 16 and {r["flip_average"] for r in table} == {False, True}
    assert {r["ab_smoothing"] for r in table} == {0.0, 3.0}
    keys = ("flip_average", "temperature", "ab_smoothing", "chroma_gain")
    picked = next(r for r in table if all(r[k] == choice[k] for k in keys))
    top = max(r["psnr"] for r in table)  # min ratio 0: every combination qualifies
    near = [r for r in table if r["psnr"] >= top - choice["psnr_tolerance_db"]]
    assert picked in near and picked["ab_pearson"] == max(r["ab_pearson"] for r in near)
    assert (
        model.config.temperature,
        model.config.chroma_gain,
        model.config.flip_average,
        model.config.ab_smoothing,
    ) == tuple(choice[k] for k in ("temperature", "chroma_gain", "flip_average", "ab_smoothing"))
    # a colourfulness floor nothing reaches: the most colourful combination
    vivid = tune_decoding(model, FrameDataset(dataset, "val"), [0.3, 1.0], 99.0, 4, gains=[1.0, 1.5])
    assert vivid["chroma_gain"] == 1.5 and len(vivid["table"]) == 4


def test_decoding_can_be_tuned_on_frames_damaged_as_archive_photographs_are(dataset):
    from training.data import FrameDataset
    from training.decoding import tune_decoding

    torch.manual_seed(1)
    model = UNet(UNetConfig(width=4, head="bins", coords=True, prior=True))
    val = FrameDataset(dataset, "val")
    clean = tune_decoding(model, val, [0.3, 1.0], 0.0, 4)
    damaged = tune_decoding(model, val, [0.3, 1.0], 0.0, 4, degraded=True)
    again = tune_decoding(model, val, [0.3, 1.0], 0.0, 4, degraded=True)
    assert (clean["inputs"], damaged["inputs"]) == ("clean", "degraded")
    assert damaged["table"] == again["table"]  # the same damage per frame on every run
    assert [r["psnr"] for r in damaged["table"]] != [r["psnr"] for r in clean["table"]]
    assert damaged["gray_psnr"] == clean["gray_psnr"]  # scored against the same clean truth
