"""What the browser tests do with a page besides clicking (the `browser` fixture is in tests/portal/conftest.py)."""

from __future__ import annotations

from tests.support import ARTIFACTS


def shot(page, name: str) -> None:
    """A full-page screenshot in test-artifacts/, for people to look at, once the page is quiet."""
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
