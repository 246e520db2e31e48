"""Model lookup (zoo) and named presets."""

import pytest

from colorization import build_pipeline, presets, zoo
from colorization.checkpoint import CheckpointError


@pytest.fixture
def models(tmp_path, tiny_model, monkeypatch):
    """A user models folder with two models, and no bundled ones (whatever ships in colorization/weights)."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "alpha.pt").write_bytes(tiny_model.read_bytes())  # stored name: "tiny"
    (folder / "beta.pt").write_bytes(tiny_model.read_bytes())
    monkeypatch.setattr(zoo, "BUNDLED_DIR", tmp_path / "no-bundled")
    monkeypatch.setenv("COLORARCHIVE_MODELS", str(folder))
    return folder


def test_models_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORARCHIVE_MODELS", str(tmp_path / "env"))
    assert zoo.models_dir() == tmp_path / "env"
    assert zoo.models_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("COLORARCHIVE_MODELS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert zoo.models_dir() == tmp_path / "xdg" / "colorarchive" / "models"


def test_resolve_by_path_stem_and_stored_name(models, tiny_model):
    assert zoo.resolve_model(str(tiny_model)) == tiny_model
    assert zoo.resolve_model("beta") == models / "beta.pt"
    assert zoo.resolve_model("tiny") == models / "alpha.pt"  # the name stored in the checkpoint


def test_default_needs_a_default_file_when_several_are_installed(models):
    with pytest.raises(CheckpointError, match="none is the default.*alpha, beta"):
        zoo.resolve_model("default")
    (models / "DEFAULT").write_text("beta.pt\n")
    assert zoo.resolve_model("default") == (models / "beta.pt").resolve()
    listed = zoo.list_models()
    assert [(m.path.name, m.default) for m in listed] == [("alpha.pt", False), ("beta.pt", True)]
    assert (
        listed[0].metrics == {"mae": 9.5, "psnr": 21.25}
        and listed[0].version == "0.1"
        and listed[0].params > 0
    )


def test_a_single_installed_model_is_the_default(models):
    (models / "beta.pt").unlink()
    assert zoo.resolve_model("default") == models / "alpha.pt"


def test_nothing_installed_says_where_to_put_a_model(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "BUNDLED_DIR", tmp_path / "none")
    with pytest.raises(CheckpointError, match="no colorization model is installed: put a checkpoint"):
        zoo.resolve_model("default", tmp_path / "empty")


def test_unknown_name_and_missing_path(models):
    with pytest.raises(CheckpointError, match="unknown model 'gamma'.*alpha, beta"):
        zoo.resolve_model("gamma")
    with pytest.raises(CheckpointError, match="does not exist"):
        zoo.resolve_model("/nowhere/model.pt")


def test_a_broken_file_is_listed_with_its_error(models):
    (models / "broken.pt").write_text("not a checkpoint")
    broken = [m for m in zoo.list_models() if m.path.name == "broken.pt"][0]
    assert broken.error and "broken.pt" in broken.error


# ---------------------------------------------------------------- presets
def test_preset_names():
    assert {"photo", "film"} <= set(presets.names())


def test_photo_preset_options_reach_the_stages(tiny_model):
    spec = presets.get(
        "photo", model=str(tiny_model), format="png", quality=80, batch_size=3, saturation=1.4, max_side=512
    )
    pipeline = build_pipeline(spec)
    names = [type(s).__name__ for s in pipeline.stages]
    assert names == ["Resize", "UNetColorizer", "Saturation", "MergeLuma"]
    assert (
        pipeline.stages[1].batch_size == 3
        and pipeline.encoder.format == "png"
        and pipeline.encoder.quality == 80
    )


@pytest.mark.parametrize("smoothing", ["none", "ema", "window", "flow"])
def test_film_preset_builds(tiny_model, smoothing):
    pipeline = build_pipeline(presets.get("film", model=str(tiny_model), smoothing=smoothing))
    from colorization.registry import _registry

    assert any(type(stage) is _registry["temporal"][smoothing] for stage in pipeline.stages)
    assert (
        type(pipeline.stages[0]).__name__ == "UNetColorizer"
        and type(pipeline.stages[-1]).__name__ == "MergeLuma"
    )


def test_bad_presets_fail_loudly():
    with pytest.raises(KeyError, match="unknown preset 'poster'"):
        presets.get("poster")
    with pytest.raises(TypeError, match="unknown option"):
        presets.get("photo", sharpness=3)
    with pytest.raises(ValueError, match="unknown smoothing"):
        presets.get("film", smoothing="magic")
    with pytest.raises(ValueError, match="film only"):
        presets.get("photo", smoothing="flow")
