"""fit(): a few tiny CPU steps, resume from the last checkpoint, reload through the library, curves on disk."""

from __future__ import annotations

import csv

import pytest
import torch

from colorization.checkpoint import load, load_model
from training.config import TrainConfig
from training.train import fit


def _cfg(dataset, out, **kw) -> TrainConfig:
    base = dict(
        dataset=str(dataset),
        out_dir=str(out),
        name="tiny",
        width=4,
        crop=64,
        batch_size=2,
        max_steps_per_epoch=2,
        epochs=1,
        workers=0,
        warmup_steps=1,
        save_half=False,
        seed=7,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_fit_then_resume_matches_an_uninterrupted_run(dataset, tmp_path):
    first = fit(_cfg(dataset, tmp_path / "a", epochs=1))
    assert first.name == "best.pt"
    resumed = fit(_cfg(dataset, tmp_path / "a", epochs=2, resume=True))
    straight = fit(_cfg(dataset, tmp_path / "b", epochs=2))

    last_a, last_b = load(tmp_path / "a" / "tiny" / "last.pt"), load(tmp_path / "b" / "tiny" / "last.pt")
    assert last_a["epoch"] == 2 and last_a["step"] == 4 and len(last_a["history"]) == 2
    for key, value in last_a["state_dict"].items():  # seeded per epoch: resuming changes nothing
        assert torch.equal(value, last_b["state_dict"][key]), key

    rows = list(csv.DictReader(open(tmp_path / "a" / "tiny" / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(float(r["val_mae"]) > 0 and float(r["images_per_s"]) > 0 for r in rows)
    assert (tmp_path / "a" / "tiny" / "curves.png").stat().st_size > 1000

    model, ckpt = load_model(resumed)
    assert ckpt["train_config"]["width"] == 4 and "optimizer" not in ckpt
    with torch.no_grad():
        out = model(torch.rand(1, 1, 32, 32))
    assert out.shape == (1, 2, 32, 32) and float(out.abs().max()) <= 1.0
    assert straight.is_file()


def test_fit_bins_tunes_the_decoding_on_validation(dataset, tmp_path):
    path = fit(
        _cfg(
            dataset,
            tmp_path,
            loss="bins",
            head="bins",
            temperature_candidates=[0.3, 1.0],
            chroma_gain_candidates=[1.0, 1.3],
            ab_smoothing_candidates=[0.0, 2.0],
            save_half=True,
        )
    )
    model, ckpt = load_model(path)
    tuning = ckpt["train_summary"]["decoding_tuning"]
    assert model.config.temperature in (0.3, 1.0) and model.config.temperature == tuning["temperature"]
    assert ckpt["model_args"]["temperature"] == tuning["temperature"]
    assert ckpt["model_args"]["chroma_gain"] == tuning["chroma_gain"] == model.config.chroma_gain
    assert ckpt["model_args"]["flip_average"] == tuning["flip_average"] == model.config.flip_average
    assert ckpt["model_args"]["ab_smoothing"] == tuning["ab_smoothing"] == model.config.ab_smoothing
    assert {
        (r["flip_average"], r["temperature"], r["ab_smoothing"], r["chroma_gain"]) for r in tuning["table"]
    } == {(f, t, s, g) for f in (False, True) for t in (0.3, 1.0) for s in (0.0, 2.0) for g in (1.0, 1.3)}
    assert next(iter(ckpt["state_dict"].values())).dtype == torch.float16


def test_fit_adversarial_and_degradation_run(dataset, tmp_path):
    path = fit(
        _cfg(
            dataset,
            tmp_path,
            loss="adversarial",
            lr=2e-4,
            epochs=2,
            gan_pretrain_epochs=1,
            degrade=True,
            degrade_p=1.0,
        )
    )
    last = load(tmp_path / "tiny" / "last.pt")
    assert "discriminator" in last and len(last["history"]) == 2
    assert path.is_file()


def test_fit_can_start_from_another_checkpoint(dataset, tmp_path):
    first = fit(_cfg(dataset, tmp_path / "a", save_half=False))
    tuned = fit(
        _cfg(dataset, tmp_path / "b", init_from=str(first), lr=0.0, warmup_steps=0, schedule="constant")
    )
    a, b = load(first), load(tuned)
    for key, value in a["state_dict"].items():  # lr 0: the fine-tuned weights are the initial ones
        assert torch.equal(value, b["state_dict"][key]), key


def test_a_diverging_run_stops_with_a_clear_error(dataset, tmp_path):
    with pytest.raises(FloatingPointError, match="diverged in epoch 1.*lower lr"):
        fit(_cfg(dataset, tmp_path, lr=1e36))  # infinite weights after the first step: NaN loss
    assert not (tmp_path / "tiny" / "best.pt").exists()


def test_val_fraction_zero_is_refused_before_training(dataset, tmp_path):
    with pytest.raises(ValueError, match="val_fraction 0.0 must be in"):
        fit(_cfg(dataset, tmp_path, val_fraction=0.0))


def test_fit_adds_global_context_to_a_plain_checkpoint(dataset, tmp_path):
    plain = fit(_cfg(dataset, tmp_path, name="plain"))
    path = fit(_cfg(dataset, tmp_path, name="ctx", context=True, init_from=str(plain)))
    model, ckpt = load_model(path)
    assert ckpt["model_args"]["context"] is True and model.config.context
    with pytest.raises(ValueError, match="do not fit this model"):
        fit(_cfg(dataset, tmp_path, name="wide", width=8, init_from=str(plain)))


def test_crops_say_where_they_lie_in_their_frame(dataset):
    from training.data import FrameDataset

    whole = FrameDataset(dataset, "train")
    crops = FrameDataset(dataset, "train", crop=32, flip=True, with_box=True)
    torch.manual_seed(0)
    seen = {"direct": 0, "mirrored": 0}
    for i in range(min(len(crops), 12)):
        L, ab, box = crops[i]
        full = whole[i][0]
        h, w = full.shape[-2:]
        assert box[0] < box[1] and box[2] < box[3]
        top, left = round((float(box[0]) + 1) * h / 2), round((float(box[2]) + 1) * w / 2)
        if torch.equal(L, full[:, top : top + 32, left : left + 32]):
            seen["direct"] += 1
        else:  # a flipped crop is the crop at `box` of the mirrored frame
            assert torch.equal(L, full.flip(-1)[:, top : top + 32, left : left + 32]), i
            seen["mirrored"] += 1
    assert seen["direct"] and seen["mirrored"]


def test_fit_with_position_channels_texture_and_the_pearson_term(dataset, tmp_path):
    plain = fit(_cfg(dataset, tmp_path, name="plain", loss="bins", head="bins", temperature_candidates=[1.0]))
    path = fit(
        _cfg(
            dataset,
            tmp_path,
            name="coords",
            loss="bins",
            head="bins",
            context=True,
            coords=True,
            prior=True,
            texture=True,
            pearson_weight=1.0,
            init_from=str(plain),
            temperature_candidates=[1.0],
        )
    )
    model, ckpt = load_model(path)
    assert ckpt["model_args"]["coords"] is True and model.down[0][0].weight.shape[1] == 3
    for path_name in ("prior", "texture"):  # both zero-initialised paths were trained
        assert ckpt["model_args"][path_name] is True
        assert float(getattr(model, path_name)[4].weight.detach().abs().sum()) > 0, path_name
    rows = list(csv.DictReader(open(tmp_path / "coords" / "metrics.csv")))
    assert -1.0 <= float(rows[0]["val_pearson"]) <= 1.0 and rows[0]["val_pearson"] != ""
    with torch.no_grad():  # inference needs no box: the input is a whole frame
        assert model(torch.rand(1, 1, 48, 64)).shape == (1, 2, 48, 64)


def test_source_weights_draw_frames_by_folder(media, tmp_path):
    from PIL import Image

    from tests.support.training_data import SPLITS, colour_image
    from training.build_dataset import build
    from training.data import FrameDataset

    scenes = tmp_path / "scenes"  # a second source folder beside the fixture's images/
    scenes.mkdir()
    for i in range(12):
        Image.fromarray(colour_image(100 + i)).save(scenes / f"scene_{i:02d}.png")
    dataset = tmp_path / "frames"
    build([media["images"], scenes], dataset, person_filter=False, splits=SPLITS)

    ds = FrameDataset(dataset, "train")
    assert set(ds.folders) == {"images", "scenes"}
    weights = ds.sample_weights(["images=0", "scenes=2.5"])
    assert [float(w) for w in weights] == [0.0 if f == "images" else 2.5 for f in ds.folders]
    with pytest.raises(ValueError, match="no source folder 'faces'.*known"):
        ds.sample_weights(["faces=0.2"])
    with pytest.raises(ValueError, match="folder=weight"):
        ds.sample_weights(["images=-1"])
    with pytest.raises(ValueError, match="no training frame"):
        ds.sample_weights(["images=0", "scenes=0"])

    # the option reaches the training loop: other frames are drawn, so other weights come out
    plain = load(fit(_cfg(dataset, tmp_path / "plain")))["state_dict"]
    scenes_only = load(fit(_cfg(dataset, tmp_path / "w", source_weights=["images=0"])))["state_dict"]
    assert any(not torch.equal(plain[k], scenes_only[k]) for k in plain)
    with pytest.raises(ValueError, match="known"):
        fit(_cfg(dataset, tmp_path / "bad", source_weights=["faces=0.2"]))


def test_pixel_paths_learn_at_their_own_rate(dataset, tmp_path):
    from colorization.models import UNet, UNetConfig
    from training.config import from_dict
    from training.train import _param_groups

    model = UNet(UNetConfig(width=4, head="bins", coords=True, prior=True, texture=True))
    rest, fast = _param_groups(model, 10.0)
    assert fast["lr_mult"] == 10.0 and rest["lr_mult"] == 1.0
    assert len(fast["params"]) == len(list(model.prior.parameters())) + len(list(model.texture.parameters()))
    assert len(fast["params"]) + len(rest["params"]) == len(list(model.parameters()))
    assert len(_param_groups(UNet(UNetConfig(width=4)), 10.0)) == 1  # nothing to speed up: one group
    (single,) = _param_groups(model, 1.0)  # at 1x: one group, in the model's own order
    assert single["params"] == list(model.parameters())
    with pytest.raises(ValueError, match="pixel_paths_lr_mult"):
        from_dict({"pixel_paths_lr_mult": 0})

    # in a run, the per-pixel paths move further from their zero start at 10x than at 1x
    moved = {}
    for mult in (1.0, 10.0):
        path = fit(
            _cfg(
                dataset,
                tmp_path / str(mult),
                loss="bins",
                head="bins",
                coords=True,
                prior=True,
                texture=True,
                pixel_paths_lr_mult=mult,
                temperature_candidates=[1.0],
            )
        )
        moved[mult] = float(load_model(path)[0].texture[4].weight.detach().abs().sum())
    assert moved[10.0] > 2 * moved[1.0] > 0


def test_fit_with_hints_learns_from_hints_drawn_from_the_truth(dataset, tmp_path):
    """A hint model trains (hints sampled from the true colour), reports its validation Pearson with and
    without hints, and its checkpoint rebuilds a model that takes hints and decodes on the head's stride."""
    path = fit(
        _cfg(
            dataset,
            tmp_path,
            loss="bins",
            head="bins",
            coords=True,
            hints=True,
            head_stride=2,
            hint_none_p=0.0,
            tune_decoding=False,
            crop=0,
        )  # fmt: skip
    )
    rows = list(csv.DictReader(open(tmp_path / "tiny" / "metrics.csv")))
    assert rows[0]["val_pearson"] and rows[0]["val_hint_pearson"]
    model, ckpt = load_model(path)
    assert model.config.hints and model.config.head_stride == 2
    assert ckpt["model_args"]["hints"] is True
    first = model.down[0][0].weight
    assert first.shape[1] == 6 and float(first[:, 3:].abs().sum()) > 0  # the hint channels moved from zero


def test_a_pretrained_encoder_run_resumes_exactly(dataset, tmp_path):
    """Stage 10's shape: EfficientNet-Lite0 (random weights here) learning at a tenth of the rate, the bins head
    with hints; a resumed run equals an uninterrupted one, and the encoder does learn."""
    kw = dict(
        encoder="efficientnet_lite0",
        random_encoder=True,
        encoder_lr_mult=0.1,
        head="bins",
        loss="bins",
        hints=True,
        tune_decoding=False,
    )
    fit(_cfg(dataset, tmp_path / "a", epochs=1, **kw))
    first = load(tmp_path / "a" / "tiny" / "last.pt")["state_dict"]
    fit(_cfg(dataset, tmp_path / "a", epochs=2, resume=True, **kw))
    fit(_cfg(dataset, tmp_path / "b", epochs=2, **kw))
    last_a, last_b = load(tmp_path / "a" / "tiny" / "last.pt"), load(tmp_path / "b" / "tiny" / "last.pt")
    assert last_a["step"] == 4
    for key, value in last_a["state_dict"].items():
        assert torch.equal(value, last_b["state_dict"][key]), key
    key = "encoder._blocks.15._project_conv.weight"
    assert not torch.equal(first[key], last_a["state_dict"][key])
