"""Filter the incident list for and against the values its rows show, as the alert queue does:
each severity, status, tenant and host of a row has its own "+" / "−" buttons; the URL carries
the filter (`not_tenant`, `host`, `not_severity`…), so a reload keeps it and Back undoes it;
every condition is a removable chip; the rows are exactly the API's answer for the same query,
for an analyst and for a tenant viewer who names a neighbour by the pseudonym it is shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from fenghuo.api.pseudonyms import pseudonym
from fenghuo.model.incident import Incident
from tests.api.seeded import PSEUDONYM_KEY, SeededApi
from tests.ui.conftest import Console, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]

FOR = ("只看此值", "Filter for this value")
OUT = ("排除此值", "Filter out this value")


def every_incident(api: SeededApi, who: str, **params: Any) -> dict[str, dict[str, Any]]:
    """Every incident the API lists for this query: id -> incident."""
    return {k: v["incident"] for k, v in api.every(who, "incidents", **params).items()}


def rows(page: Page) -> Locator:
    return page.locator("table.incidents tbody tr[data-id]")


def shows(page: Page, ids: set[str]) -> None:
    """Wait until the list has drawn the API's answer (its count under the table), then compare
    the rows with `ids`."""
    n = len(ids)
    expect(page.locator(".list-foot")).to_contain_text(
        re.compile(rf"已显示 {n} 个事件|{n} incidents shown")
    )
    expect(rows(page)).to_have_count(n)
    assert {str(r.get_attribute("data-id")) for r in rows(page).all()} == ids


def press(page: Page, labels: tuple[str, str], value: str, within: str = "") -> None:
    """Hover a value shown in a row (its buttons appear) and click its "+" or "−" (the first
    such value, or the one inside the CSS selector `within`)."""
    button = ", ".join(f'button[aria-label="{label}: {value}"]' for label in labels)
    holder = page.locator(f"{within} .fvv".strip()).filter(has=page.locator(button)).first
    holder.hover()
    holder.locator(button).click()


def involves(incident: Incident) -> set[str]:
    """The tenants an incident involves, as `tenant` and `not_tenant` read it."""
    return {*incident.tenants, *incident.actor_tenants}


def involves_doc(incident: dict[str, Any]) -> set[str]:
    """The same, of an incident as the API answered it."""
    return {*incident["tenants"], *incident["actor_tenants"]}


def test_filter_out_a_tenant_then_for_a_host_and_out_a_severity(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    incidents = console.hour.incidents
    everything = every_incident(console, "soc_analyst")
    assert set(everything) == {i.id for i in incidents}
    # A tenant that attacks in some incidents and is a victim in others.
    tenant = next(
        t for i in incidents for t in i.actor_tenants if any(t in j.tenants for j in incidents)
    )
    without = {i.id for i in incidents if tenant not in involves(i)}
    assert set(every_incident(console, "soc_analyst", not_tenant=tenant)) == without
    assert 0 < len(without) < len(incidents)

    c = new_console()
    page = c.login("soc_analyst")
    page.goto(f"{console.url}/#/incidents")
    shows(page, set(everything))
    plain_url = page.url
    expect(page.locator(".filter-chips .chip")).to_have_count(0)

    # --- filter the tenant out with its "−" on a row
    press(page, OUT, tenant)
    expect(page).to_have_url(re.compile(rf"[?&]not_tenant={tenant}(&|$)"))
    shows(page, without)
    tenants_shown = rows(page).locator("td.c-tenants").all_inner_texts()
    assert not [t for t in tenants_shown if re.search(rf"\b{tenant}\b", t)]
    chip = page.locator(".filter-chips .chip.neg")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text(f"租户 ≠ {tenant}")
    expect(chip.locator(".visually-hidden")).to_have_text(f"租户不是 {tenant}")
    expect(chip.get_by_role("button")).to_have_accessible_name(f"取消排除：租户 {tenant}")

    # --- a reload keeps it; Back removes it, Forward brings it back
    page.reload()
    shows(page, without)
    expect(page.locator(".filter-chips .chip.neg")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(plain_url)
    shows(page, set(everything))
    expect(page.locator(".filter-chips .chip")).to_have_count(0)
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"not_tenant={tenant}"))
    shows(page, without)

    # --- filter for a host of a row still shown, then out that row's severity
    target = next(i for i in incidents if i.id in without and i.hosts)
    host = target.hosts[0]
    press(page, FOR, host)
    expect(page).to_have_url(re.compile(rf"[?&]host={host}(&|$)"))
    expect(page).to_have_url(re.compile(rf"not_tenant={tenant}"))
    on_host = every_incident(console, "soc_analyst", host=host, not_tenant=tenant)
    assert target.id in on_host
    shows(page, set(on_host))
    expect(page.locator('.filter-chips .chip[data-key="host"]')).to_have_text(
        re.compile(rf"^宿主机: {host}")
    )

    severity = str(target.severity)
    label = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "信息"}
    press(page, OUT, label[severity], within=f'tr[data-id="{target.id}"] td.c-sev')
    expect(page).to_have_url(re.compile(rf"[?&]not_severity={severity}(&|$)"))
    expected = every_incident(
        console, "soc_analyst", host=host, not_tenant=tenant, not_severity=severity
    )
    assert set(expected) == {
        i.id
        for i in incidents
        if host in i.hosts and tenant not in involves(i) and i.severity != severity
    }
    shows(page, set(expected))
    if not expected:
        expect(page.locator(".incident-list .empty")).to_be_visible()
    expect(page.locator(".filter-chips .chip")).to_have_count(3)
    expect(page.locator('.filter-chips .chip.neg[data-key="not_severity"]')).to_contain_text(
        f"严重性 ≠ {label[severity]}"
    )

    # --- removing the host's chip leaves both exclusions
    page.locator('.filter-chips .chip[data-key="host"]').get_by_role("button").click()
    expect(page).not_to_have_url(re.compile(r"[?&]host="))
    left = every_incident(console, "soc_analyst", not_tenant=tenant, not_severity=severity)
    assert set(left) == {
        i.id for i in incidents if tenant not in involves(i) and i.severity != severity
    }
    shows(page, set(left))
    expect(page.locator(".filter-chips .chip.neg")).to_have_count(2)
    # Back: the host is there again
    page.go_back()
    expect(page).to_have_url(re.compile(rf"[?&]host={host}(&|$)"))
    shows(page, set(expected))
    assert not c.errors, c.errors


def test_a_tenant_viewer_filters_out_a_neighbour_by_its_pseudonym(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    hour = console.hour
    key = PSEUDONYM_KEY.encode()
    # A viewer whose incidents name a neighbour in some rows and not in others.
    found: tuple[str, str, dict[str, Any], dict[str, Any]] | None = None
    for viewer in hour.tenants:
        mine = every_incident(console, f"viewer:{viewer}")
        names = {n for i in mine.values() for n in (*i["tenants"], *i["actor_tenants"])}
        for shown in sorted(names - {viewer}):
            left = every_incident(console, f"viewer:{viewer}", not_tenant=shown)
            if 0 < len(left) < len(mine):
                found = (viewer, shown, mine, left)
                break
        if found:
            break
    assert found, "some viewer's incidents should name a neighbour"
    viewer, shown, mine, left = found
    neighbour = next(t for t in hour.tenants if pseudonym(key, "tenant", t) == shown)
    assert neighbour != shown, "a neighbour is named by its pseudonym"
    assert set(left) == {i for i, inc in mine.items() if shown not in involves_doc(inc)}

    c = new_console(locale="en-US")
    page = c.login(f"viewer:{viewer}")
    page.goto(f"{console.url}/#/incidents")
    shows(page, set(mine))
    press(page, OUT, shown)
    expect(page).to_have_url(re.compile(rf"[?&]not_tenant={shown}(&|$)"))
    shows(page, set(left))
    expect(page.locator(".filter-chips .chip.neg")).to_contain_text(f"Tenant ≠ {shown}")
    expect(page.locator(".filter-chips .chip.neg .visually-hidden")).to_have_text(
        f"Tenant is not {shown}"
    )
    assert neighbour not in page.locator("main").inner_text()
    page.go_back()
    shows(page, set(mine))
    expect(page.locator(".filter-chips .chip")).to_have_count(0)
    assert not c.errors, c.errors


def test_the_overviews_grade_links_select_that_grade(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    """The grade x severity matrix links to `#/incidents?grade=G&severity=S&status=new`: the list
    shows exactly those incidents, with a chip for the grade."""
    incident = max(console.hour.incidents, key=lambda i: i.grade.value)
    grade, severity = incident.grade.value, incident.severity.value
    want = set(every_incident(console, "soc_analyst", grade=grade, severity=severity, status="new"))
    assert incident.id in want
    assert want != set(every_incident(console, "soc_analyst", severity=severity, status="new"))
    c = new_console("en-US")
    c.login("soc_analyst")
    page = c.open(f"#/incidents?grade={grade}&severity={severity}&status=new")
    shows(page, want)
    expect(page.locator(".filter-chips .chip").filter(has_text="Grade")).to_have_count(1)
    assert c.errors == []
