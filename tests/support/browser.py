"""What the browser tests do with a page besides clicking (the `browser` fixture is in tests/portal/conftest.py)."""

from __future__ import annotations

from tests.support import ARTIFACTS


def shot(page, name: str) -> None:
    """A full-page screenshot in test-artifacts/, for people to look at, once the page is quiet."""
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(
    browser, url: str, username: str, next_path: str, height: int = 900, console_errors: list | None = None
):
    """A new page signed in as `username` (password "pass-1234-word", the fixtures'), left on `next_path`; with
    `console_errors`, every console error of the page from its first load on is appended to that list."""
    page = browser.new_context(viewport={"width": 1280, "height": height}).new_page()
    if console_errors is not None:
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-1234-word")
    page.click("button[type=submit]")
    assert page.url.endswith(next_path), page.url
    return page
