"""export(): temperature tuned on validation, fp16 weights, DEFAULT written, loadable by the model zoo."""

from __future__ import annotations

import torch

from colorization.checkpoint import load_model, save
from colorization.models import UNet, UNetConfig
from colorization.zoo import resolve_model
from training.export import export


def test_export_tunes_and_names_the_default(dataset, tmp_path):
    torch.manual_seed(0)
    src = save(tmp_path / "run" / "best.pt", UNet(UNetConfig(width=4, head="bins")), name="tiny-bins",
               train_config={"temperature_candidates": [0.25, 0.9]})
    info = export(src, tmp_path / "weights" / "tiny-bins-v1.pt", dataset=dataset, make_default=True,
                  tune_frames=4)
    assert info["temperature"] in (0.25, 0.9)
    assert (tmp_path / "weights" / "DEFAULT").read_text().strip() == "tiny-bins-v1.pt"
    model, ckpt = load_model(tmp_path / "weights" / "tiny-bins-v1.pt")
    assert model.config.temperature == info["temperature"] == ckpt["model_args"]["temperature"]
    assert next(iter(ckpt["state_dict"].values())).dtype == torch.float16
    assert ckpt["train_summary"]["temperature_tuning"]["frames"] == 4
    assert resolve_model("default", tmp_path / "weights") == (tmp_path / "weights" / "tiny-bins-v1.pt").resolve()
