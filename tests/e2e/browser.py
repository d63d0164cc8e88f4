"""A real headless Chromium for the end-to-end tests, driven by Playwright.

The browser is Debian's ``chromium`` (/usr/bin/chromium, installed by scripts/bootstrap.sh when run as
root); Playwright never downloads one of its own.  The flags keep it quiet on a closed network: no
GPU, no QUIC, no first-run, sync, component-update or background requests.  Each launch gets a fresh,
empty profile (Playwright makes a temporary ``--user-data-dir`` per ``launch()`` and removes it on close).

Playwright's sync API runs its own event loop: use it only from tests that run the daemon in a
subprocess, never inside a running Twisted reactor.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:  # imported lazily below: without Playwright, the other e2e tests still run
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this thread
# until it stops, and later tests that run asyncio themselves (the panoramisk comparison) must not
# find one there.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the end-to-end tests need Debian's chromium. "
                    "Run scripts/test as root once (it installs it), or: apt-get install chromium",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()
