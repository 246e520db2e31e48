"""Every portal test starts with an empty cache: the database is rolled back between tests without the save
signals that replace the public pages' catalogue version (portal/gallery/public_cache.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
