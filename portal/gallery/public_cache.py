"""The public pages from the cache: one catalogue version, bumped by every change a visitor could see.

Every save or delete of an item, a collection, a colorization request or a model replaces the version
(`bump`); each cached page, API page, facet list and count is kept with the version it was made under
(`store`, `lookup`), and one made under an older version is never served: publication changes show up at
once, with no keys to delete. The bump happens when the change is made (the same transaction reads the new version) and again when it commits
(a page read between the two from the old rows is left under a version nobody asks for any more).

The cache is Django's default one: Redis in production, which the web processes and the workers share. It is
never needed to answer: a lookup it cannot answer is a miss, a store or a bump it cannot take is logged and
dropped. A bump it missed is not lost, because the version has two halves: the cache's, which the changing
transaction itself reads at once, and the database's (`CatalogueVersion`, written once the change commits),
which outlives a cache outage. A page kept before the outage was kept under the old database half, so once the
cache answers again no process serves it, whichever process made the change and whether or not it still runs.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.utils.functional import cached_property
from redis.exceptions import RedisError

log = logging.getLogger("portal")

VERSION_KEY = "public-catalogue-version"
# What an unreachable cache raises: Redis' errors; OSError for a folder cache (the demo's) that cannot be written.
CACHE_ERRORS = (RedisError, OSError)


def _committed_version() -> str:
    from portal.catalog.models import CatalogueVersion

    return CatalogueVersion.objects.filter(pk=1).values_list("value", flat=True).first() or ""


def _cached_version() -> str:
    """The cache's half; a fresh one when the cache has none (never a value an old entry was keyed by)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    return version


def catalogue_version() -> str:
    """The current version (raises what the cache raises when it cannot be reached)."""
    return f"{_committed_version()}.{_cached_version()}"


def _bump_cache() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    except CACHE_ERRORS as exc:
        log.warning("public cache unreachable, its version not bumped (the database's will be): %s", exc)


def bump() -> None:
    """A new version in the cache and in the database; called once a change commits."""
    from portal.catalog.models import CatalogueVersion

    _bump_cache()
    CatalogueVersion.objects.update_or_create(pk=1, defaults={"value": uuid.uuid4().hex})


def catalogue_changed() -> None:
    """Bump the cache's half now (this transaction reads the new version) and both once the change commits (a
    database error then is logged: the change itself is committed)."""
    _bump_cache()
    transaction.on_commit(bump, robust=True)


def _changed(sender, **kwargs) -> None:
    catalogue_changed()


def connect_signals() -> None:
    """Called from the gallery's AppConfig.ready(); queryset.update() sends no signal, so code that changes
    public rows with it calls catalogue_changed() itself."""
    from portal.catalog.models import Collection, Item
    from portal.jobs.models import ColorizationRequest, ColorModel

    for model in (Item, Collection, ColorizationRequest, ColorModel):
        post_save.connect(_changed, sender=model, dispatch_uid=f"public-cache-{model.__name__}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"public-cache-{model.__name__}-delete")


def _key(kind: str, address: str) -> str:
    return f"public:{kind}:{hashlib.sha256(address.encode()).hexdigest()}"


def lookup(kind: str, address: str) -> tuple[str | None, object | None]:
    """The current version and what is stored for `address` under it, None when nothing is or it was stored under
    another version: the cache's half of the version and the entry come in one round trip. (None, None) when the
    cache cannot be reached: the caller makes the page itself and `store` keeps nothing."""
    key = _key(kind, address)
    committed = _committed_version()
    try:
        found = cache.get_many([VERSION_KEY, key])
        version = f"{committed}.{found.get(VERSION_KEY) or _cached_version()}"
    except CACHE_ERRORS as exc:
        log.warning("public cache unreachable, %s served uncached: %s", kind, exc)
        return None, None
    entry = found.get(key)
    return version, (entry[1] if entry is not None and entry[0] == version else None)


def store(kind: str, address: str, version: str | None, value: object) -> None:
    """Keep `value` for `address`, made from the rows as they were under `version` (read before them); nothing
    when the version is unknown (the cache could not be reached) or the cache cannot take it now."""
    if version is None:
        return
    try:
        cache.set(_key(kind, address), (version, value), settings.PUBLIC_CACHE_SECONDS)
    except CACHE_ERRORS as exc:
        log.warning("public cache unreachable, %s not kept: %s", kind, exc)


def _anonymous_and_plain(request: HttpRequest) -> bool:
    """A visitor who is not signed in and has no message waiting sees the same page as every other."""
    return not request.user.is_authenticated and not len(get_messages(request))


def public_page(view: Callable) -> Callable:
    """Serve a public page to anonymous visitors from the cache (by host and full path, under the current
    version); signed-in people (whose header differs) always get it rendered afresh."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        from portal.jobs import demo_progress  # (models: not at import time)

        if (
            request.method not in ("GET", "HEAD")
            or not _anonymous_and_plain(request)
            or demo_progress.active()
        ):
            return view(request, *args, **kwargs)  # (the demo's progress banner changes with every reload)
        address = request.build_absolute_uri()
        version, hit = lookup("page", address)
        if hit is not None:
            content, content_type = hit
            return HttpResponse(content, content_type=content_type)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            store("page", address, version, (response.content, response["Content-Type"]))
        return response

    return wrapper


class CachedCountPaginator(Paginator):
    """Counts a query once per catalogue version (the count reads every matching row; the page does not)."""

    @cached_property
    def count(self) -> int:
        try:
            address = repr(self.object_list.query.sql_with_params())
        except Exception:  # a query that cannot match (EmptyResultSet) or is not SQL: count it as Django does
            return super().count
        version, found = lookup("count", address)
        if found is None:
            found = self.object_list.count()
            store("count", address, version, found)
        return found
