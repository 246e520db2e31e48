from __future__ import annotations

import json

from django import forms

from colorization.hints import HintError
from portal.catalog.forms import MultipleFileField
from portal.catalog.models import Collection
from portal.jobs import retraining
from portal.jobs.hints import check
from portal.jobs.models import SMOOTHING_CHOICES, BulkAction, ColorModel, TrainingSource


class ColorizeForm(forms.Form):
    models = forms.ModelMultipleChoiceField(
        ColorModel.objects.all(), widget=forms.CheckboxSelectMultiple, label="Models",
        help_text="One result per model, to compare side by side.",
    )  # fmt: skip
    smoothing = forms.ChoiceField(
        choices=SMOOTHING_CHOICES, initial="flow", required=False, label="Temporal smoothing",
        help_text="Keeps colours steady from frame to frame.",
    )  # fmt: skip
    # the hint editor (static/js/hints.js) writes the hints document here: {"points", "strokes", "strength"};
    # a film's {"keyframes": {"120": {"points", "strokes"}, ...}, "strength"}
    hints = forms.CharField(required=False, widget=forms.HiddenInput, label="Colour hints")

    def __init__(self, *args, item=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.film = item is not None and item.is_film
        default = ColorModel.default()
        if default is not None:
            self.fields["models"].initial = [default.pk]
        self.fields["models"].queryset = ColorModel.objects.exclude(info__has_key="error")
        if item is not None and not item.is_film:
            del self.fields["smoothing"]

    def clean_hints(self) -> dict:
        try:
            return check(self.cleaned_data.get("hints"), film=self.film)
        except HintError as exc:
            raise forms.ValidationError(str(exc)) from None

    def options(self) -> dict:
        data = self.cleaned_data
        options = {"smoothing": data["smoothing"]} if data.get("smoothing") else {}
        if data.get("hints"):
            options["hints"] = data["hints"]
        return options


class HintPreviewForm(forms.Form):
    """The editor's preview: the hints and the model to look with (the default when none is named); for a
    film, the frame to look at (its marks are those the keyframes document holds for it)."""

    hints = forms.CharField(required=False)
    model = forms.ModelChoiceField(ColorModel.objects.exclude(info__has_key="error"), required=False)
    frame = forms.IntegerField(min_value=0, required=False)

    def __init__(self, *args, item=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.film = item is not None and item.is_film

    def clean_hints(self) -> dict:
        try:
            return check(self.cleaned_data.get("hints"), film=self.film)
        except HintError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("model") and not self.errors.get("model"):
            data["model"] = ColorModel.default()
            if data["model"] is None:
                raise forms.ValidationError("No colorization model is registered yet.")
        return data


class TrainingForm(forms.Form):
    FINE_TUNE, FRESH = "default", "fresh"
    name = forms.SlugField(
        max_length=100, help_text="Name of the model this run registers, e.g. unet-2026-11."
    )
    start = forms.ChoiceField(
        choices=[(FINE_TUNE, "Fine-tune the current default"), (FRESH, "A new plain U-Net, from nothing")],
        widget=forms.RadioSelect, required=False, label="Start from",
        help_text="Fine-tuning keeps the default's architecture, colour hints and decoding, starts from its "
        "weights at a gentle learning rate, and mixes your material with a sample of the data it was trained on "
        "so it does not forget. A new U-Net (of the width below) ignores hints and needs far more material.",
    )  # fmt: skip
    epochs = forms.IntegerField(
        min_value=1, max_value=500, initial=5, help_text="5 adapt the default; a new U-Net needs 30 or more."
    )
    width = forms.IntegerField(
        min_value=2, max_value=128, initial=32, help_text="A new U-Net only (32 is the thesis U-Net)."
    )
    person_filter = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Keep only film frames showing 1 to 5 people.",
    )
    extra = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "lr=3e-4\nloss=perceptual-vgg16"}),
        label="Other settings",
        help_text="One key=value per line: training.config.TrainConfig fields, or build.<option> for the "
        "dataset builder (values in JSON, e.g. build.every_s=2).",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.detector_problem = retraining.detector_problem()
        self.material_note = retraining.MATERIAL_NOTE
        self.default_model = ColorModel.objects.filter(is_default=True).first()
        if self.default_model is None:
            self.fields["start"].initial = self.FRESH
            self.fields["start"].choices = [(self.FRESH, self.fields["start"].choices[1][1])]
        else:
            self.fields["start"].initial = self.FINE_TUNE
            self.fields["start"].choices = [
                (self.FINE_TUNE, f"Fine-tune the current default, {self.default_model.name}"),
                self.fields["start"].choices[1],
            ]
        if self.detector_problem:
            field = self.fields["person_filter"]
            field.initial, field.disabled = False, True
            field.help_text = "Unavailable: see the note above."  # the note says why, once

    def clean(self) -> dict:
        data = super().clean()
        problem = retraining.material_problem(TrainingSource.objects.count())
        if problem:
            raise forms.ValidationError(problem)
        return data

    def clean_start(self) -> str:
        """Blank (a form without the choice): fine-tune the default where there is one."""
        start = self.cleaned_data.get("start") or (self.FINE_TUNE if self.default_model else self.FRESH)
        if start == self.FINE_TUNE and self.default_model is None:
            raise forms.ValidationError("There is no default model to fine-tune: start a new U-Net.")
        return start

    def start_from(self) -> ColorModel | None:
        """The model the run fine-tunes, or None for a new one."""
        return self.default_model if self.cleaned_data["start"] == self.FINE_TUNE else None

    def clean_extra(self) -> dict:
        out = {}
        for n, line in enumerate(self.cleaned_data["extra"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise forms.ValidationError(f"Line {n} must look like key=value.")
            out[key.strip()] = value.strip()
        return out

    def overrides(self) -> dict:
        data = self.cleaned_data
        extra = {k: v for k, v in data["extra"].items() if not k.startswith("build.")}
        shape = (
            {"width": data["width"]} if self.start_from() is None else {}
        )  # a fine-tune keeps the default's
        return {"epochs": data["epochs"], **shape, **extra}

    def build_options(self) -> dict:
        options = {"person_filter": self.cleaned_data["person_filter"]}
        for key, value in self.cleaned_data["extra"].items():
            if key.startswith("build."):
                try:
                    options[key.removeprefix("build.")] = json.loads(value)
                except (ValueError, RecursionError):  # not JSON (or nested too deeply): the text itself
                    options[key.removeprefix("build.")] = value
        return options


class SourceForm(forms.Form):
    files = MultipleFileField(help_text="Colour films (or colour photographs) to learn from.")


class ModelUploadForm(forms.Form):
    name = forms.SlugField(max_length=100)
    checkpoint = forms.FileField(help_text="A Colorarchive checkpoint (.pt) from colorize-train.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    make_default = forms.BooleanField(required=False, label="Make it the default for new requests")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if ColorModel.objects.filter(name=name).exists():
            raise forms.ValidationError("A model with this name exists already.")
        return name


class BulkForm(forms.Form):
    """The staff catalogue's bulk action: the items ticked by hand, or every item matching the filter."""

    action = forms.ChoiceField(choices=BulkAction.Action.choices)
    items = forms.TypedMultipleChoiceField(coerce=int, required=False)  # choices: any id (checked on use)
    everything = forms.BooleanField(required=False, label="Every item matching the filter")
    models = forms.ModelMultipleChoiceField(
        ColorModel.objects.exclude(info__has_key="error"), required=False, widget=forms.CheckboxSelectMultiple,
        label="Models (to colorize)",
    )  # fmt: skip
    smoothing = forms.ChoiceField(
        choices=SMOOTHING_CHOICES, initial="flow", required=False, label="Smoothing (films)"
    )
    collection = forms.ModelChoiceField(
        Collection.objects.all(), required=False, label="Collection (to add to)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = ColorModel.default()
        if default is not None:
            self.fields["models"].initial = [default.pk]
        self.fields["items"].choices = [(v, v) for v in self.data.getlist("items")] if self.data else []

    def clean(self) -> dict:
        data = super().clean()
        action = data.get("action")
        if not data.get("everything") and not data.get("items"):
            raise forms.ValidationError("Tick some items, or every item matching the filter.")
        if action == BulkAction.Action.COLORIZE and not data.get("models"):
            raise forms.ValidationError("Choose at least one model to colorize with.")
        if action == BulkAction.Action.ADD_TO_COLLECTION and not data.get("collection"):
            raise forms.ValidationError("Choose the collection to add the items to.")
        return data

    def options(self) -> dict:
        data = self.cleaned_data
        if data["action"] == BulkAction.Action.COLORIZE:
            return {"models": [m.pk for m in data["models"]], "smoothing": data.get("smoothing") or "flow"}
        if data["action"] == BulkAction.Action.ADD_TO_COLLECTION:
            return {"collection": data["collection"].pk}
        return {}
