"""The archive: collections and items described with Dublin Core-style fields.

An item's original is stored once and never changed; its SHA-256 is recorded at upload. Thumbnails and
web previews (a poster frame for film) are derived files made by a worker.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from portal.catalog.search import Unaccented, fold_fields

RIGHTS_CHOICES = [
    ("http://rightsstatements.org/vocab/InC/1.0/", "In Copyright"),
    ("http://rightsstatements.org/vocab/InC-EDU/1.0/", "In Copyright - Educational Use Permitted"),
    ("http://rightsstatements.org/vocab/InC-NC/1.0/", "In Copyright - Non-Commercial Use Permitted"),
    ("http://rightsstatements.org/vocab/NoC-NC/1.0/", "No Copyright - Non-Commercial Use Only"),
    ("http://rightsstatements.org/vocab/NoC-OKLR/1.0/", "No Copyright - Other Known Legal Restrictions"),
    ("http://rightsstatements.org/vocab/NoC-US/1.0/", "No Copyright - United States"),
    ("http://rightsstatements.org/vocab/CNE/1.0/", "Copyright Not Evaluated"),
    ("http://rightsstatements.org/vocab/UND/1.0/", "Copyright Undetermined"),
    ("http://rightsstatements.org/vocab/NKC/1.0/", "No Known Copyright"),
]
DEFAULT_RIGHTS = "http://rightsstatements.org/vocab/CNE/1.0/"
# xmpRights:Marked: True for a rights-managed work, False for the public domain; the rest are not known
RIGHTS_MARKED = {"InC": True, "NoC": False, "NKC": False}


class Collection(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gallery:collection", args=[self.slug])


class ItemQuerySet(models.QuerySet):
    def published(self) -> ItemQuerySet:
        return self.filter(status=Item.Status.PUBLISHED)

    def bulk_create(self, objs, *args, **kwargs) -> list[Item]:
        """bulk_create skips save(): each item's `search_text` is filled here instead."""
        objs = list(objs)
        for obj in objs:
            obj.search_text = obj.folded_search_text()
        return super().bulk_create(objs, *args, **kwargs)


def _original_path(item: Item, filename: str) -> str:
    return f"originals/{item.sha256[:2]}/{item.sha256}/{filename}"


def _derived_path(item: Item, filename: str) -> str:
    return f"derived/items/{item.pk}/{filename}"


class Item(models.Model):
    class Type(models.TextChoices):
        STILL_IMAGE = "StillImage", "Photograph"
        MOVING_IMAGE = "MovingImage", "Film"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    # Dublin Core-style description
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    date = models.CharField(
        max_length=100, blank=True, help_text='As written, e.g. "1923" or "circa 1920-1925".'
    )
    year_from = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Earliest year (for search)."
    )
    year_to = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Latest year (for search).")
    place = models.CharField(max_length=200, blank=True)
    people = models.TextField(blank=True, help_text="People shown, separated by semicolons.")
    subjects = models.TextField(blank=True, help_text="Subjects, separated by semicolons.")
    creator = models.CharField(max_length=200, blank=True)
    source_archive = models.CharField(max_length=200, blank=True)
    source_identifier = models.CharField(max_length=200, blank=True)
    rights = models.URLField(choices=RIGHTS_CHOICES, default=DEFAULT_RIGHTS)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.STILL_IMAGE)
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    # SEARCHED_FIELDS folded (accents and case) and joined, kept by save(): SQLite's search matches the words
    # against it with a plain LIKE (portal/catalog/search.py); PostgreSQL searches the fields themselves
    search_text = models.TextField(blank=True, default="", editable=False)

    # The original: stored once, never changed. A record imported without its file (a CSV row naming none) has
    # neither until a file is attached (portal.catalog.ingest.attach_original); it cannot be published till then.
    original = models.FileField(upload_to=_original_path, max_length=400, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    size = models.BigIntegerField(default=0, editable=False)
    # fixity (portal/catalog/fixity.py): why the stored bytes no longer match, and when they were last checked
    fixity_error = models.TextField(blank=True, editable=False)
    fixity_checked = models.DateTimeField(null=True, blank=True, editable=False)

    # Derived by the worker (cpu queue)
    width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    frame_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    duration = models.FloatField(null=True, blank=True, editable=False)
    thumbnail = models.FileField(upload_to=_derived_path, blank=True, max_length=400, editable=False)
    preview = models.FileField(upload_to=_derived_path, blank=True, max_length=400, editable=False)
    media_error = models.TextField(blank=True, editable=False)
    # None until the worker has looked; True when the original holds colour (not just a tone such as sepia)
    is_colour = models.BooleanField(null=True, blank=True, editable=False)
    preview_attempts = models.PositiveSmallIntegerField(
        default=0, editable=False
    )  # see make_previews in workers/tasks.py

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ItemQuerySet.as_manager()
    # the audit trail: edits, publications, previews; who (the signed-in person; none for a worker) and when
    history = HistoricalRecords(excluded_fields=["updated", "search_text"])

    class Meta:
        # the id decides between items created in the same instant (bulk imports), so pages never overlap
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["status", "year_from"]),
            # the public lists walk these instead of sorting the catalogue: search, collections and the API in
            # the default order, the home page by publication (portal/gallery/views.py)
            models.Index(
                fields=["-created", "-id"], name="published_newest", condition=Q(status="published")
            ),
            models.Index(
                fields=["-published_at", "-created", "-id"],
                name="published_recent",
                condition=Q(status="published"),
            ),
            # PostgreSQL only, outside the model: trigram indexes for the search's unaccented icontains
            # (migrations 0006, 0008 and 0011) and the weighted full-text `search_document` column (0011)
        ]
        constraints = [
            # a record without its file is never public, whatever path its status took
            models.CheckConstraint(
                condition=~Q(status="published", original=""), name="published_item_has_original"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_film(self) -> bool:
        return self.type == self.Type.MOVING_IMAGE

    @property
    def has_original(self) -> bool:
        return bool(self.original)

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def people_list(self) -> list[str]:
        return [p.strip() for p in self.people.split(";") if p.strip()]

    def subject_list(self) -> list[str]:
        return [s.strip() for s in self.subjects.split(";") if s.strip()]

    def rights_label(self) -> str:
        return dict(RIGHTS_CHOICES).get(self.rights, self.rights)

    def credit_line(self) -> str:
        """Who to credit: the holding archive and its reference when known, else the institution."""
        source = ", ".join(part for part in (self.source_archive, self.source_identifier) if part)
        return f"Courtesy of {source or settings.INSTITUTION_NAME}"

    def file_rights(self) -> dict[str, Any]:
        """What a colorized file's own metadata says of this item (the fields of colorization.provenance.Rights,
        as plain values): the institution, title, identifier, rights statement and credit line."""
        url = f"{settings.PORTAL_URL.rstrip('/')}{self.get_absolute_url()}" if settings.PORTAL_URL else ""
        code = self.rights.partition("/vocab/")[2].split("/")[0].split("-")[0]  # "InC-EDU" -> "InC"
        return {
            "institution": settings.INSTITUTION_NAME,
            "title": self.title,
            "identifier": self.source_identifier or url or f"{settings.INSTITUTION_NAME} item {self.pk}",
            "rights_uri": self.rights,
            "rights_label": self.rights_label(),
            "credit_line": self.credit_line(),
            "copyrighted": RIGHTS_MARKED.get(code),
            "url": url,
        }

    def save(self, *args, **kwargs) -> None:
        """Every way into published (the publish button, the edit form, a CSV row) records when it happened."""
        if self.status == self.Status.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "published_at"}
        fields = kwargs.get("update_fields")
        if fields is None or not set(fields).isdisjoint(SEARCHED_FIELDS):
            self.search_text = self.folded_search_text()
            if fields is not None:
                kwargs["update_fields"] = {*fields, "search_text"}
        super().save(*args, **kwargs)

    def folded_search_text(self) -> str:
        """What `search_text` holds for the fields as they are now."""
        return fold_fields([getattr(self, name) for name in SEARCHED_FIELDS])

    def unpublishable(self) -> str | None:
        """Why this item may not be published (no original yet, or one that could not be read), or None."""
        if not self.original:
            return "it has no original yet; attach its file first"
        return f"its original cannot be read ({self.media_error})" if self.media_error else None

    def publish(self) -> None:
        """Publish; ValueError saying why when the original is unreadable."""
        if reason := self.unpublishable():
            raise ValueError(f"“{self.title}” cannot be published: {reason}")
        self.status = self.Status.PUBLISHED
        self.save(update_fields=["status", "updated"])

    def unpublish(self) -> None:
        self.status = self.Status.DRAFT
        self.save(update_fields=["status", "updated"])

    def get_absolute_url(self) -> str:
        return reverse("gallery:item", args=[self.pk])


# the searched fields take `__unaccented__icontains` (portal/catalog/search.py): every Dublin Core field in text
SEARCHED_FIELDS = ["title", "description", "date", "place", "people", "subjects", "creator", "source_archive",
                   "source_identifier"]  # fmt: skip
for _name in SEARCHED_FIELDS:
    Item._meta.get_field(_name).register_lookup(Unaccented)


class TrashEntry(models.Model):
    """An item or a result that was deleted: its rows (serialized) and its files (copied under trash/) wait here
    until restored or purged (`manage.py purge_trash`); the entry itself stays as the audit record."""

    class Kind(models.TextChoices):
        ITEM = "item", "Item"
        RESULT = "result", "Colorization result"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField()
    label = models.CharField(max_length=400)
    rows = models.JSONField(
        default=list
    )  # the rows as django.core.serializers writes them, restored as they were
    files = models.JSONField(default=list)  # [[stored name, name under trash/], ...]
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(auto_now_add=True)
    restored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restored_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-deleted_at"]
        verbose_name = "trash entry"
        verbose_name_plural = "trash"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.object_id}: {self.label}"

    @property
    def state(self) -> str:
        if self.restored_at:
            return "restored"
        return "purged" if self.purged_at else "in the trash"


class CatalogueVersion(models.Model):
    """One row: the public catalogue's version as last committed (portal/gallery/public_cache.py). It lives here,
    not only in the cache, so that a change committed while the cache was unreachable is not lost with it."""

    value = models.CharField(max_length=32)
