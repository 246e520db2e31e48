from __future__ import annotations

from django import forms
from django.utils.text import slugify

from portal.catalog.models import Collection, Item

METADATA_FIELDS = [
    "title", "description", "date", "year_from", "year_to", "place", "people", "subjects", "creator",
    "source_archive", "source_identifier", "rights", "collection", "status",
]  # fmt: skip


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ItemForm(forms.ModelForm):
    class Meta:
        model = Item
        fields = METADATA_FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "people": forms.TextInput(attrs={"placeholder": "Anna Berg; Karl Berg"}),
            "subjects": forms.TextInput(attrs={"placeholder": "harbour; ships; work"}),
        }

    def clean(self):
        data = super().clean()
        lo, hi = data.get("year_from"), data.get("year_to")
        if lo and hi and lo > hi:
            self.add_error("year_to", "The latest year must not be before the earliest year.")
        if data.get("status") == Item.Status.PUBLISHED and (reason := self.instance.unpublishable()):
            self.add_error("status", f"This item cannot be published: {reason}.")
        return data


class UploadForm(forms.Form):
    files = MultipleFileField(
        help_text="Photographs (JPEG, PNG, TIFF) or films (MP4, MOV, MKV, AVI). Several at once."
    )
    collection = forms.ModelChoiceField(Collection.objects.all(), required=False)
    date = forms.CharField(required=False, max_length=100)
    place = forms.CharField(required=False, max_length=200)
    creator = forms.CharField(required=False, max_length=200)
    source_archive = forms.CharField(required=False, max_length=200)
    rights = forms.ChoiceField(
        choices=Item._meta.get_field("rights").choices,
        initial=Item._meta.get_field("rights").default,
        required=False,
    )


class AttachForm(forms.Form):
    file = forms.FileField(
        label="The original", help_text="A photograph (JPEG, PNG, TIFF) or a film (MP4, MOV, MKV, AVI)."
    )


class CollectionForm(forms.ModelForm):
    """The slug (the collection's address) is made from the title when left empty; the page fills it in as
    the title is typed (static/js/site.js), and it can be changed before saving."""

    class Meta:
        model = Collection
        fields = ["title", "slug", "description"]
        help_texts = {"slug": "The collection's web address; made from the title when left empty."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].widget.attrs["data-slug-from"] = "title"

    def clean(self):
        data = super().clean()
        if not data.get("slug") and data.get("title"):
            data["slug"] = slugify(data["title"])[: Collection._meta.get_field("slug").max_length]
            if not data["slug"]:
                self.add_error(
                    "slug", "The title has no letters or digits to make an address from; enter one."
                )
            elif Collection.objects.filter(slug=data["slug"]).exists():
                self.add_error("slug", f"“{data['slug']}” is taken by another collection; enter another.")
        return data


IMPORT_TARGETS = [
    "file", "title", "description", "date", "year_from", "year_to", "place", "people", "subjects", "creator",
    "source_archive", "source_identifier", "rights", "status",
]  # fmt: skip
# the field each drop-down fills, as staff read it: the item's label and the Dublin Core term it stands for
IMPORT_LABELS = {
    "file": "File (the original; none: attach it later)", "title": "Title (dc:title)",
    "description": "Description (dc:description)", "date": "Date as written (dc:date)",
    "year_from": "Earliest year", "year_to": "Latest year", "place": "Place (dc:coverage)",
    "people": "People shown (dc:subject)", "subjects": "Subjects (dc:subject)", "creator": "Creator (dc:creator)",
    "source_archive": "Source archive (dc:source)", "source_identifier": "Identifier there (dc:identifier)",
    "rights": "Rights (dc:rights)", "status": "Status (draft or published)",
}  # fmt: skip
CSV_MAX_BYTES = 1_500_000  # the CSV travels back with the mapping: it must fit the form's 2.5 MB for fields


class ImportForm(forms.Form):
    """Step 1 reads the CSV (csv_file); step 2 carries it (csv_data, the file's bytes in base64) with a drop-down of
    the header's columns for each field, and the files to import with it."""

    csv_file = forms.FileField(
        label="CSV file",
        required=False,
        help_text="Comma, semicolon or tab separated; UTF-8 or Windows-1252 (as Excel saves it); "
        "the first row holds the column names.",
    )
    csv_data = forms.CharField(required=False, widget=forms.HiddenInput)
    csv_name = forms.CharField(required=False, widget=forms.HiddenInput)
    files = MultipleFileField(
        required=False,
        help_text="The images and films the CSV's file column names. Rows naming no file become records "
        "without their file: attach it later on the item's page.",
    )
    collection = forms.ModelChoiceField(Collection.objects.all(), required=False)

    def __init__(self, *args, header: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— not imported —"), *((h, h) for h in header or [])]
        for target in IMPORT_TARGETS:
            self.fields[f"map_{target}"] = forms.ChoiceField(
                choices=choices, required=False, label=IMPORT_LABELS[target]
            )

    def mapping(self) -> dict[str, str]:
        return {t: self.cleaned_data[f"map_{t}"] for t in IMPORT_TARGETS if self.cleaned_data.get(f"map_{t}")}

    def mapping_fields(self):
        return [self[f"map_{t}"] for t in IMPORT_TARGETS]
