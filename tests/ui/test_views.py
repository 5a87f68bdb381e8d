"""Every view of the console, as an administrator sees it: checked with axe-core (no serious or
critical violation) and photographed in both languages (and the overview in the dark wall-screen
mode) into var/ui-screenshots/, the suite's artifacts. A reviewer looks at them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.seeded import SeededApi
from tests.ui.conftest import (
    API,
    AXE,
    SCREENSHOTS,
    Console,
    nav_hrefs,
    settled,
    skip_without_chromium,
)

pytestmark = [pytest.mark.browser, skip_without_chromium]


def detail_pages(api: SeededApi) -> dict[str, str]:
    """One page of each kind of object: the escape incident, one of its alerts, its host, its
    attacker tenant, and the report of the incident."""
    escape = next(i for i in api.hour.incidents if "escape-cross-tenant" in i.sequences)
    reports = api.get("admin", f"{API}/reports", limit=200).json()["items"]
    report = next((r["id"] for r in reports if r.get("incident_id") == escape.id), None)
    pages = {
        "incident": f"#/incidents/{escape.id}",
        "alert": f"#/alerts/{sorted(escape.alert_ids)[0]}",
        "host": f"#/hosts/{escape.hosts[0]}",
        "tenant": f"#/tenants/{sorted(escape.actor_tenants or escape.tenants)[0]}",
    }
    if report:
        pages["report"] = f"#/reports/{report}"
    return pages


@pytest.fixture(scope="module")
def views(browser: Browser, console: SeededApi) -> dict[str, str]:
    """Name → hash of every view: what the admin's navigation offers, and the detail pages."""
    context = browser.new_context(locale="zh-CN")
    try:
        page = Console(context, console).login("admin")
        found = {h.removeprefix("#/"): h for h in nav_hrefs(page)}
    finally:
        context.close()
    return {**found, **detail_pages(console)}


def show(page: Page, api: SeededApi, hash_: str) -> str | None:
    """Open the view and wait for it; what went wrong, if anything: an error box, whatever its
    status, or "no such page" (a route the console lacks)."""
    page.goto(f"{api.url}/{hash_}")
    settled(page)
    problems = page.locator("main .problem")
    return f"{hash_}: {problems.first.inner_text()}" if problems.count() else None


def axe_violations(page: Page, api: SeededApi) -> list[dict[str, Any]]:
    assert AXE.is_file(), f"axe-core is not vendored at {AXE}"
    if not page.evaluate("typeof window.axe === 'object'"):
        # Served by the console itself, so the page's Content-Security-Policy stays in force.
        page.add_script_tag(url=f"{api.url}/{AXE.relative_to(AXE.parents[2]).as_posix()}")
    result: dict[str, Any] = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return {violations: r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary})),
            }))};
        }"""
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        for n in v["nodes"][:8]:
            summary = str(n["summary"]).replace("\n", " ")
            lines.append(f"    {json.dumps(n['target'])}: {summary}")
    return "\n".join(lines)


def test_accessibility_of_every_view(
    new_console: Callable[..., Console], console: SeededApi, views: dict[str, str]
) -> None:
    report: dict[str, list[dict[str, Any]]] = {}
    broken: list[str] = []
    c = new_console()
    page = c.open("#/login")
    expect(page.get_by_label(re.compile(r"API (key|密钥)"))).to_be_visible()
    report["login"] = axe_violations(page, console)
    c.login("admin")
    for name, hash_ in views.items():
        if failed := show(page, console, hash_):
            broken.append(failed)
            continue
        report[name] = axe_violations(page, console)
    # The dark wall-screen mode has its own colours, so its own contrast.
    page.get_by_role("button", name=re.compile(r"大屏|wall-screen", re.IGNORECASE)).click()
    expect(page.locator("html.wall")).to_have_count(1)
    assert not show(page, console, views["overview"])
    report["overview (wall)"] = axe_violations(page, console)

    for name, violations in report.items():
        print(f"--- {name}\n{describe(violations) or 'no violation'}")
    bad = {
        name: [v for v in violations if v["impact"] in ("serious", "critical")]
        for name, violations in report.items()
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, "\n".join(f"--- {k}\n{describe(v)}" for k, v in bad.items())
    assert not broken, f"views not checked, they do not open: {broken}"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_screenshots_of_every_view(
    new_console: Callable[..., Console], console: SeededApi, views: dict[str, str], language: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob(f"*-{language}.png"):
        old.unlink()
    c = new_console(locale="zh-CN" if language == "zh" else "en-US")
    page = c.open("#/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if language == "zh" else "en")
    page.screenshot(path=SCREENSHOTS / f"login-{language}.png", full_page=True)
    c.login("admin")
    broken = []
    for name, hash_ in views.items():
        if failed := show(page, console, hash_):
            broken.append(failed)
        page.screenshot(path=SCREENSHOTS / f"{name}-{language}.png", full_page=True)
    for who, hash_ in (("regulator", "#/reports"), ("viewer", "#/overview")):
        other = new_console(locale="zh-CN" if language == "zh" else "en-US")
        tenant = console.hour.tenants[0]
        viewer_page = other.login(who if who == "regulator" else f"viewer:{tenant}")
        if failed := show(viewer_page, console, hash_):
            broken.append(f"{who} {failed}")
        viewer_page.screenshot(
            path=SCREENSHOTS / f"{who}-{hash_.strip('#/')}-{language}.png", full_page=True
        )
    page.get_by_role("button", name=re.compile(r"大屏|wall-screen", re.IGNORECASE)).click()
    expect(page.locator("html.wall")).to_have_count(1)
    if failed := show(page, console, views["overview"]):
        broken.append(f"wall {failed}")
    page.screenshot(path=SCREENSHOTS / f"overview-wall-{language}.png", full_page=True)
    written = sorted(p.name for p in SCREENSHOTS.glob(f"*-{language}.png"))
    assert len(written) == len(views) + 4, written
    assert not broken, broken
    assert not c.errors, c.errors
