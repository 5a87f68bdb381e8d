"""Log in as each role by pasting its key: the header names the role, the navigation offers what
the role may use (a regulator only reports and feed, a tenant viewer no admin page), and every
page the navigation offers opens without the API refusing it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Console, nav_hrefs, problem, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]

# Pages only an administrator has any use for (the API answers 403 to everyone else).
ADMIN_PAGE = re.compile(r"^#/(keys|audit|admin|collections|settings)\b")
REGULATOR_PAGES = {"#/reports", "#/feed"}


def who_for(role: str, tenants: list[str]) -> str:
    return f"viewer:{tenants[0]}" if role == "tenant_viewer" else role


@pytest.mark.parametrize("role", ["admin", "soc_analyst", "tenant_viewer", "regulator"])
def test_navigation_follows_the_role(
    new_console: Callable[..., Console], role: str, hour_tenants: list[str]
) -> None:
    c = new_console()
    page = c.login(who_for(role, hour_tenants))
    expect(page.locator(f".who .role-{role}")).to_be_visible()
    hrefs = nav_hrefs(page)
    assert len(hrefs) == len(set(hrefs)), f"duplicate navigation entries: {hrefs}"
    if role == "regulator":
        expect(page).to_have_url(re.compile(r"#/reports"))
        assert "#/reports" in hrefs
        assert set(hrefs) <= REGULATOR_PAGES, f"a regulator is offered {hrefs}"
    else:
        expect(page).to_have_url(re.compile(r"#/overview"))
        assert {"#/overview", "#/alerts"} <= set(hrefs), hrefs
    if role in ("tenant_viewer", "soc_analyst", "regulator"):
        offered = [h for h in hrefs if ADMIN_PAGE.match(h)]
        assert not offered, f"{role} is offered admin pages {offered}"
    # Every page offered opens, and the API does not refuse it (no 401/403 rendered).
    for href in hrefs:
        page.locator(f'nav.mainnav a[href="{href}"]').click()
        expect(page).to_have_url(re.compile(re.escape(href) + r"(\?|$)"))
        expect(page.locator(f'nav.mainnav a[href="{href}"]')).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.locator("main .page")).to_be_visible()
        for status in (401, 403):
            expect(problem(page, status)).to_have_count(0)
    assert not c.errors, c.errors


def test_analyst_and_admin_are_offered_the_soc_pages(
    new_console: Callable[..., Console],
) -> None:
    """Admin is offered everything the analyst is (and the analyst the SOC's views)."""
    analyst = set(nav_hrefs(new_console().login("soc_analyst")))
    admin = set(nav_hrefs(new_console().login("admin")))
    assert analyst <= admin, f"admin lacks {analyst - admin}"


def test_a_bad_key_is_refused_and_stays_on_login(new_console: Callable[..., Console]) -> None:
    c = new_console()
    page = c.open("#/login")
    key = page.get_by_label(re.compile(r"API (key|密钥)"))
    key.fill("fh_not_a_real_key")
    key.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("401")
    expect(page).to_have_url(re.compile(r"#/login"))
    expect(page.locator("nav.mainnav")).to_have_count(0)


def test_a_deep_link_without_a_session_asks_for_the_key_then_goes_there(
    new_console: Callable[..., Console],
) -> None:
    c = new_console()
    page = c.open("#/alerts")
    expect(page).to_have_url(re.compile(r"#/login\?next="))
    key = page.get_by_label(re.compile(r"API (key|密钥)"))
    key.fill(c.api.tokens["soc_analyst"])
    key.press("Enter")
    expect(page).to_have_url(re.compile(r"#/alerts"))
