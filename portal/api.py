"""JSON API (Django REST framework) for other archive systems: items and colorization requests.

POST /api/token/ {username, password} -> {token, expires}: a new token each time, shown this once (only its hash
is stored), replacing the account's earlier one;
DELETE /api/token/ with the token in the Authorization header revokes it (admins also delete tokens in the
admin site).

Anonymous callers see published items and approved results only; staff (token or session) see and
submit everything. GET /api/items/ takes filters (ItemFilters): collection, year_from, year_to, place, type, has_colorization,
modified_since; GET /api/requests/ takes item, status, model, approved, modified_since (RequestFilters); a bad value
answers 400 naming the parameter.
POST /api/items/ (multipart: file + fields), POST /api/requests/ {item, models, smoothing, hints}
(hints: the colour hints format of the README; a film's by keyframe).
Both answer 201, or 202 when the rows are saved but the work queue is down (the work starts once it is back).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch
from django.urls import reverse
from rest_framework import mixins, parsers, permissions, renderers, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from colorization.hints import HintError
from portal import broker, tokens
from portal.catalog.ingest import IngestError, add_item
from portal.catalog.models import Collection, Item
from portal.catalog.permissions import is_staff_member
from portal.gallery import public_cache
from portal.gallery.public_cache import CachedCountPaginator
from portal.gallery.search import years_overlap
from portal.gallery.views import published_results
from portal.jobs import services
from portal.jobs.hints import check as check_hints
from portal.jobs.models import SMOOTHING_CHOICES, ColorizationRequest, ColorModel, Status
from portal.parsers import JSONParser
from portal.tokens import (
    ExpiringTokenAuthentication,
    TokenAccountThrottle,
    TokenAddressThrottle,
    expires_at,
    locked_for,
)


class StaffWrites(permissions.BasePermission):
    message = "Only museum staff may add items or request colorizations."

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or is_staff_member(request.user)


_PK = 987654321  # stands for the row's id in a file address worked out once per request


def _url(request, name: str, pk: int, kind: str) -> str:
    """The absolute address of a file view: reversed once per request and kind (a list page names 150 files)."""
    addresses = request.__dict__.setdefault("_file_addresses", {})
    if (name, kind) not in addresses:
        before, _, after = request.build_absolute_uri(reverse(name, args=[_PK, kind])).rpartition(str(_PK))
        addresses[name, kind] = (before, after)
    before, after = addresses[name, kind]
    return f"{before}{pk}{after}"


class ResultSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    model_label = serializers.CharField(read_only=True)
    result_url = serializers.SerializerMethodField()
    label = serializers.SerializerMethodField()

    class Meta:
        model = ColorizationRequest
        fields = ["id", "item", "model", "model_label", "preset", "options", "status", "progress", "error",
                  "approved", "created", "finished", "result_url", "provenance", "label"]  # fmt: skip

    def get_result_url(self, obj) -> str | None:
        return _url(self.context["request"], "gallery:result_file", obj.pk, "result") if obj.result else None

    def get_label(self, obj) -> str:
        return f"AI colorization ({obj.model_label}); not the original colours"


class ItemSerializer(serializers.ModelSerializer):
    file = serializers.FileField(write_only=True)
    original_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()
    # prefetched by ItemViewSet into listed_results: one query a page, and the nested serializer built once
    results = ResultSerializer(many=True, read_only=True, source="listed_results")
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Item
        fields = ["id", "title", "description", "date", "year_from", "year_to", "place", "people", "subjects",
                  "creator", "source_archive", "source_identifier", "rights", "type", "collection", "status",
                  "original_name", "sha256", "size", "width", "height", "frame_count", "created",
                  "file", "original_url", "preview_url", "results"]  # fmt: skip
        read_only_fields = [
            "type",
            "original_name",
            "sha256",
            "size",
            "width",
            "height",
            "frame_count",
            "created",
        ]

    def get_original_url(self, obj) -> str | None:  # None for a record whose file is not attached yet
        return (
            _url(self.context["request"], "gallery:item_file", obj.pk, "original") if obj.original else None
        )

    def get_preview_url(self, obj) -> str | None:
        return _url(self.context["request"], "gallery:item_file", obj.pk, "preview") if obj.preview else None

    def create(self, validated):
        upload = validated.pop("file")
        try:
            item = add_item(upload, user=self.context["request"].user, **validated)
        except IngestError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        item.listed_results = []  # a new item has no results yet
        return item


def _created(data, rows) -> Response:
    """201 Created; 202 Accepted when the rows are saved but the work queue was down (the sweeper sends them
    once it is back), with the reason in a Warning header."""
    if broker.all_queued(rows):
        return Response(data, status=201)
    return Response(data, status=202, headers={"Warning": f'199 - "{broker.QUEUE_DOWN_MESSAGE}"'})


class CountOncePagination(PageNumberPagination):
    django_paginator_class = CachedCountPaginator


def _modified_since() -> serializers.DateTimeField:
    """The lists' `modified_since` filter: rows changed at or after it."""
    return serializers.DateTimeField(
        required=False,
        help_text="Changed at or after: an ISO 8601 date or date-time (UTC without an offset).",
    )


class ItemFilters(serializers.Serializer):
    """The list's query parameters; each is optional and they combine (AND)."""

    collection = serializers.SlugField(required=False, help_text="A collection's slug.")
    year_from = serializers.IntegerField(required=False, min_value=0, max_value=9999)
    year_to = serializers.IntegerField(required=False, min_value=0, max_value=9999,
                                       help_text="Items whose range of years overlaps year_from..year_to.")  # fmt: skip
    place = serializers.CharField(
        required=False, max_length=200, help_text="Part of the place, any case or accent."
    )
    type = serializers.ChoiceField(choices=Item.Type.choices, required=False)
    has_colorization = serializers.BooleanField(required=False, help_text="true or false.")
    modified_since = _modified_since()

    def validate_collection(self, slug: str) -> str:
        if not Collection.objects.filter(slug=slug).exists():
            raise ValidationError(f"There is no collection {slug!r}.")
        return slug

    def validate(self, data: dict) -> dict:
        if data.get("year_from") is not None and data.get("year_to") is not None:
            if data["year_from"] > data["year_to"]:
                raise ValidationError({"year_to": ["year_to is before year_from."]})
        return data

    def apply(self, items, results):
        """`items` narrowed to the filters; `results` are the colorizations the caller may see."""
        data = self.validated_data
        if "collection" in data:
            items = items.filter(collection__slug=data["collection"])
        items = items.filter(years_overlap(data.get("year_from"), data.get("year_to")))
        if data.get("place"):
            items = items.filter(place__unaccented__icontains=data["place"])
        if "type" in data:
            items = items.filter(type=data["type"])
        if "has_colorization" in data:
            colorized = Exists(results.filter(item=OuterRef("pk")))
            items = items.filter(colorized if data["has_colorization"] else ~colorized)
        if "modified_since" in data:
            items = items.filter(updated__gte=data["modified_since"])
        return items


class ItemViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ItemSerializer
    permission_classes = [StaffWrites]
    pagination_class = CountOncePagination

    def list(self, request, *args, **kwargs):
        """Everyone but staff sees the published catalogue alike: its pages come from the cache, keyed by the
        catalogue version and the full address (the links in them are absolute)."""
        if is_staff_member(request.user):
            return super().list(request, *args, **kwargs)
        address = request.build_absolute_uri()
        version, data = public_cache.lookup("api-items", address)
        if data is None:
            data = super().list(request, *args, **kwargs).data
            public_cache.store("api-items", address, version, data)
        return Response(data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = serializer.save()
        return _created(serializer.data, [item])

    def _visible(self):
        """The items and the results the caller may see: everything for staff, else the published ones."""
        items = Item.objects.select_related("collection")
        if is_staff_member(self.request.user):
            return items, ColorizationRequest.objects.select_related("model")
        return items.published(), published_results()

    def get_queryset(self):
        items, results = self._visible()
        return items.prefetch_related(Prefetch("requests", queryset=results, to_attr="listed_results"))

    def filter_queryset(self, queryset):
        """The list's filters (a bad value: 400 naming it); "has a colorization" means a finished one the caller
        may see (for the public: approved)."""
        if self.action != "list":
            return queryset
        filters = ItemFilters(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        _, results = self._visible()
        return filters.apply(queryset, results.filter(status=Status.DONE))


class RequestCreateSerializer(serializers.Serializer):
    item = serializers.PrimaryKeyRelatedField(queryset=Item.objects.all())
    models = serializers.ListField(child=serializers.CharField(), required=False,
                                   help_text='Model names; default: ["default"].')  # fmt: skip
    smoothing = serializers.ChoiceField(choices=SMOOTHING_CHOICES, required=False)
    hints = serializers.JSONField(
        required=False,
        help_text='Colour hints for a photograph: {"points": [{"x": 0.42, "y": 0.31, "color": "#2f5a8a"}], '
        '"strokes": [{"points": [[0.1, 0.2], [0.3, 0.25]], "color": "#8a2f2f", "closed": false}], "strength": 1.2}; '
        'for a film, by frame: {"keyframes": {"120": {"points": [...]}}, "strength": 1.2}',
    )

    def validate(self, attrs: dict) -> dict:
        if "hints" in attrs:  # checked once the item is known: a film's hints go by keyframe
            try:
                attrs["hints"] = check_hints(attrs["hints"], film=attrs["item"].is_film)
            except HintError as exc:
                raise ValidationError({"hints": [str(exc)]}) from None
        return attrs

    def validate_models(self, names):
        found = []
        for name in names or ["default"]:
            model = (
                ColorModel.default() if name == "default" else ColorModel.objects.filter(name=name).first()
            )
            if model is None:
                raise ValidationError(f"unknown model {name!r}")
            found.append(model)
        return found


class RequestFilters(serializers.Serializer):
    """The request list's query parameters; each is optional and they combine (AND)."""

    item = serializers.IntegerField(required=False, min_value=1, help_text="An item's id.")
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    model = serializers.CharField(required=False, max_length=100, help_text="A model's name.")
    approved = serializers.BooleanField(required=False, help_text="true or false.")
    modified_since = _modified_since()

    def validate_model(self, name: str) -> str:
        if not ColorModel.objects.filter(name=name).exists():
            raise ValidationError(f"There is no model {name!r}.")
        return name

    def apply(self, requests):
        data = self.validated_data
        if "item" in data:
            requests = requests.filter(item_id=data["item"])
        if "status" in data:
            requests = requests.filter(status=data["status"])
        if "model" in data:
            requests = requests.filter(model__name=data["model"])
        if "approved" in data:
            requests = requests.filter(approved=data["approved"])
        if "modified_since" in data:
            requests = requests.filter(updated__gte=data["modified_since"])
        return requests


class RequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ResultSerializer
    permission_classes = [StaffWrites]

    def get_queryset(self):
        if is_staff_member(self.request.user):
            return ColorizationRequest.objects.select_related("model")
        return published_results().filter(item__status=Item.Status.PUBLISHED)

    def filter_queryset(self, queryset):
        """The list's filters (RequestFilters; a bad value: 400 naming it), within what the caller may see."""
        if self.action != "list":
            return queryset
        filters = RequestFilters(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return filters.apply(queryset)

    def create(self, request, *args, **kwargs):
        incoming = RequestCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        models = data.get("models") or incoming.validate_models(["default"])
        options = {"smoothing": data["smoothing"]} if data.get("smoothing") else {}
        if data.get("hints"):
            options["hints"] = data["hints"]
        try:
            reqs = services.submit(request.user, data["item"], models, options)
        except services.SubmitError as exc:
            raise ValidationError({"models": [str(exc)]}) from None
        return _created(ResultSerializer(reqs, many=True, context={"request": request}).data, reqs)


class TokenView(APIView):
    authentication_classes = [ExpiringTokenAuthentication]
    throttle_classes = [TokenAddressThrottle, TokenAccountThrottle]
    parser_classes = [parsers.FormParser, parsers.MultiPartParser, JSONParser]
    renderer_classes = [renderers.JSONRenderer]

    def get_permissions(self):
        return [permissions.IsAuthenticated()] if self.request.method == "DELETE" else []

    def post(self, request):
        username = str(request.data.get("username", ""))
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        locked = locked_for(request._request, username)
        if locked is None and serializer.is_valid():
            raw, token = tokens.issue(serializer.validated_data["user"])
            return Response({"token": raw, "expires": expires_at(token).isoformat()})
        locked = locked or locked_for(request._request, username)  # the failure just now may have locked it
        if locked is None:
            raise ValidationError(serializer.errors)
        minutes = -(-int(locked.total_seconds()) // 60)
        detail = (f"Too many failed sign-ins for {username!r} from this address: signing in is locked for "
                  f"{minutes} more minute(s). An administrator can unlock it sooner.")  # fmt: skip
        return Response(
            {"detail": detail}, status=429, headers={"Retry-After": str(int(locked.total_seconds()))}
        )

    def delete(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
