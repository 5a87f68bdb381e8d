"""Fixtures of the browser suite: the simulated hour served by a real API (the console at `/`),
Debian's Chromium driven by Playwright (sync API), and helpers to log in and wait for a view.

The hour is replayed once per session (about 2 s); each test module gets its own store and
server (a fraction of a second), so a module that triages or inserts alerts never changes what
another module sees. The browser is started once; every test gets a fresh context (its own
sessionStorage and localStorage, so its own login and language).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from fenghuo.intel.collections import Collection, CollectionFilter, new_collection_id
from fenghuo.intel.feed import FeedWriter
from fenghuo.intel.reports import sync_reports
from fenghuo.inventory import InventoryStore
from fenghuo.store.keys import Role
from tests.api.seeded import PSEUDONYM_KEY, Hour, SeededApi, replay_hour, seeded_api

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "ui" / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "var" / "ui-screenshots"
API = "/api/v1"
# How long the page may take to show what the API answered (CI: two slow cores).
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

skip_without_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium); "
    "Playwright cannot download its own browser here",
)


@pytest.fixture(scope="session")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("ui-hour"))


@pytest.fixture(scope="session")
def inventory_doc(hour: Hour) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((hour.root / "inventory.yaml").read_text())
    return doc


def start_console(tmp: Path, hour: Hour) -> Iterator[SeededApi]:
    """The hour in a fresh store, its report drafts written (as the feed service would), and a
    collection of every incident granted to the regulator, so every view has something to show."""
    with seeded_api(tmp, hour) as api:
        inventory = InventoryStore(hour.root / "inventory.yaml")
        now = dt.datetime.now(dt.UTC)
        sync_reports(api.store, hour.incidents, inventory.current(), now)
        regulator = next(k for k in api.store.keys.list() if k.role is Role.REGULATOR)
        collection = Collection(
            id=new_collection_id(), title="全部事件", filter=CollectionFilter(), created_at=now
        )
        api.store.collections.create(collection)
        api.store.collections.grant(collection.id, [regulator.id])
        FeedWriter(api.store, PSEUDONYM_KEY.encode(), inventory.current).write(hour.incidents)
        yield api


@pytest.fixture(scope="module")
def console(hour: Hour, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    yield from start_console(tmp_path_factory.mktemp("ui-store"), hour)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class Console:
    """One browser context on the console, with the errors the page logged."""

    def __init__(self, context: BrowserContext, api: SeededApi) -> None:
        self.context = context
        self.api = api
        self.page: Page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        # A static file of the console that fails to load is a bug; API errors are answers.
        self.page.on(
            "response",
            lambda r: (
                self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and "/api/" not in r.url and "/taxii2/" not in r.url
                else None
            ),
        )

    def open(self, hash_: str = "#/") -> Page:
        self.page.goto(f"{self.api.url}/{hash_}")
        return self.page

    def login(self, who: str, *, expect_home: bool = True) -> Page:
        """Paste the key of `who` ("admin", "soc_analyst", "regulator", "viewer:<tenant>") into
        the login form and submit it with the keyboard."""
        page = self.open("#/login")
        key = page.get_by_label(re.compile(r"API (key|密钥)"))
        key.fill(self.api.tokens[who])
        key.press("Enter")
        if expect_home:
            expect(page).not_to_have_url(re.compile(r"#/login"))
            expect(nav_links(page).first).to_be_visible()
        return page


def nav_links(page: Page) -> Locator:
    return page.locator("nav.mainnav a")


def nav_hrefs(page: Page) -> list[str]:
    links = nav_links(page)
    expect(links.first).to_be_visible()
    return [str(a.get_attribute("href")) for a in links.all()]


def problem(page: Page, status: int) -> Locator:
    """The page's rendering of an API error with this status (errorBox in ui/js/app.js)."""
    return page.locator(f'.problem[data-status="{status}"]')


@pytest.fixture
def new_console(browser: Browser, console: SeededApi) -> Iterator[Callable[..., Console]]:
    """Factory of fresh browser contexts on the module's console (default language Chinese)."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "zh-CN") -> Console:
        context = browser.new_context(
            locale=locale, timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 900}
        )
        contexts.append(context)
        return Console(context, console)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def hour_tenants(hour: Hour) -> list[str]:
    return hour.tenants


LOADING = re.compile(r"加载中…|Loading…")


def settled(page: Page) -> None:
    """Wait until the current view has rendered what the API answered (no loading text left)."""
    expect(page.locator("main .page")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(LOADING)
    expect(page.locator("main")).not_to_have_text("")
