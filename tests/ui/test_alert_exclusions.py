"""Filter out a tenant and a host from the alert queue with the value's own "filter out" button:
the rows no longer show them, the URL carries `not_tenant`/`not_host` (so a reload keeps them
and the back button removes them), the active filter shows each exclusion as a removable chip,
and "act on all matching" counts what the API counts for the same filter and acts on exactly
those alerts, none of the excluded ones."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from fenghuo.api.pseudonyms import pseudonym
from tests.api.seeded import PSEUDONYM_KEY, SeededApi
from tests.ui.conftest import API, Console, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]


def every_alert(api: SeededApi, who: str, **params: Any) -> dict[str, dict[str, Any]]:
    """Every alert the API lists for this query: id -> {alert, state}."""
    return api.every(who, "alerts", **params)


def rows(page: Page) -> Locator:
    return page.locator("table.grid tbody tr[data-id]")


def column(page: Page, n: int) -> list[str]:
    """The texts of the n-th cell (1-based) of every row."""
    return rows(page).locator(f"td:nth-child({n})").all_inner_texts()


TENANT_COLUMN, HOST_COLUMN = 5, 6


def filter_out(page: Page, value: str) -> None:
    """Click the "filter out" button of a value in the table (shown on hover or focus)."""
    names = [
        f'button[aria-label="{label}: {value}"]' for label in ("排除此值", "Filter out this value")
    ]
    button = ", ".join(names)
    cell = page.locator("table.grid tbody td").filter(has=page.locator(button)).first
    cell.hover()
    cell.locator(button).first.click()


def shown_ids(page: Page) -> set[str]:
    return {str(r.get_attribute("data-id")) for r in rows(page).all()}


def test_filter_out_a_tenant_and_a_host_then_act_on_all_matching(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    hour = console.hour
    before = every_alert(console, "admin")
    assert {v["state"]["status"] for v in before.values()} == {"new"}, "the module's store is fresh"
    # A tenant that is the actor of some alerts and the victim of others, and a host.
    tenant = next(
        a.actor_tenant_id
        for a in hour.alerts
        if a.actor_tenant_id and any(b.tenant_id == a.actor_tenant_id for b in hour.alerts)
    )
    involving = {a.id for a in hour.alerts if tenant in (a.tenant_id, a.actor_tenant_id)}
    host = next(a.host_id for a in hour.alerts if a.host_id and a.id not in involving)

    c = new_console()
    page = c.login("soc_analyst")
    page.goto(f"{console.url}/#/alerts")
    expect(rows(page)).to_have_count(len(before))
    plain_url = page.url

    # --- filter out the tenant with its button in the tenant column
    filter_out(page, tenant)
    expect(page).to_have_url(re.compile(rf"not_tenant={tenant}(&|$)"))
    expect(rows(page)).to_have_count(len(before) - len(involving))
    assert shown_ids(page) == set(before) - involving
    assert not [t for t in column(page, TENANT_COLUMN) if re.search(rf"\b{tenant}\b", t)]
    chip = page.locator(".chips .chip.neg")
    expect(chip).to_have_count(1)
    expect(chip).to_contain_text(f"≠ {tenant}")
    expect(chip.locator(".visually-hidden")).to_have_text(f"租户不是 {tenant}")
    expect(chip.get_by_role("button")).to_have_accessible_name(f"取消排除：租户 {tenant}")

    # --- a reload keeps it; the back button removes it, forward brings it back
    page.reload()
    expect(rows(page)).to_have_count(len(before) - len(involving))
    expect(page.locator(".chips .chip.neg")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(plain_url)
    expect(rows(page)).to_have_count(len(before))
    expect(page.locator(".chips .chip.neg")).to_have_count(0)
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"not_tenant={tenant}"))
    expect(rows(page)).to_have_count(len(before) - len(involving))

    # --- and the host, from its cell: alerts without a host stay
    filter_out(page, host)
    expect(page).to_have_url(re.compile(rf"not_host={host}"))
    expected = set(
        every_alert(console, "soc_analyst", not_tenant=tenant, not_host=host)
    )  # the API, same filter
    assert expected == {
        a.id
        for a in hour.alerts
        if tenant not in (a.tenant_id, a.actor_tenant_id) and a.host_id != host
    }
    assert any(before[i]["alert"]["host_id"] is None for i in expected)
    expect(rows(page)).to_have_count(len(expected))
    assert shown_ids(page) == expected
    assert host not in column(page, HOST_COLUMN)
    expect(page.locator(".chips .chip.neg")).to_have_count(2)

    # --- the JSON export holds the same alerts and names the exclusions in its filter
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"导出 JSON|Export JSON")).click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["filter"] == {"not_tenant": [tenant], "not_host": [host]}
    assert {item["alert"]["id"] for item in exported["items"]} == expected
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"导出 CSV|Export CSV")).click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()[1:]
    assert {line.split(",", 1)[0] for line in lines} == expected

    # --- a saved filter keeps the exclusions
    page.locator("#aq-save-name").fill("without them")
    page.get_by_role("button", name=re.compile(r"保存当前筛选|Save this filter")).click()
    page.goto(f"{console.url}/#/alerts")
    expect(rows(page)).to_have_count(len(before))
    page.locator("#aq-saved").select_option(label="without them")
    expect(page).to_have_url(re.compile(rf"not_tenant={tenant}&not_host={host}"))
    expect(rows(page)).to_have_count(len(expected))

    # --- act on all matching: the same count as the API, the exclusions listed
    page.get_by_role("button", name=re.compile(r"对所有匹配项操作|Act on all matching")).click()
    dialog = page.get_by_role("dialog")
    n = len(expected)
    confirm = dialog.get_by_role("button", name=re.compile(rf"^(对 {n} 条执行|Apply to {n})$"))
    expect(confirm).to_be_enabled()
    summary = dialog.locator("ul.filter-summary")
    expect(summary.locator('li[data-key="not_tenant"]')).to_contain_text(tenant)
    expect(summary.locator('li[data-key="not_tenant"]')).to_contain_text("租户（排除）")
    expect(summary.locator('li[data-key="not_host"]')).to_contain_text(host)
    dialog.locator("#dlg-action").select_option("acknowledge")
    confirm.click()
    expect(dialog).to_have_count(0)
    for alert_id in sorted(expected)[:5]:
        expect(page.locator(f'tr[data-id="{alert_id}"] .status')).to_have_class(
            re.compile(r"status-acknowledged")
        )

    # --- the API: exactly those changed, none of the excluded ones
    after = every_alert(console, "admin")
    changed = {k for k, v in after.items() if v["state"]["status"] != "new"}
    assert changed == expected, changed ^ expected
    assert all(after[k]["state"]["status"] == "acknowledged" for k in expected)
    for alert_id in sorted(set(before) - expected):
        log = console.get("admin", f"{API}/alerts/{alert_id}/actions").json()
        assert not log.get("items"), f"{alert_id} outside the filter was acted on: {log}"

    # --- removing a chip removes that exclusion only
    page.locator('.chips .chip.neg[data-key="not_host"] button').click()
    expect(page).not_to_have_url(re.compile(r"not_host="))
    expect(page).to_have_url(re.compile(rf"not_tenant={tenant}"))
    expect(rows(page)).to_have_count(len(before) - len(involving))
    assert not c.errors, c.errors


def test_a_tenant_viewer_filters_out_a_neighbour_by_its_pseudonym(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    hour = console.hour
    viewer, neighbour = next(
        (a.tenant_id, a.actor_tenant_id)
        for a in hour.alerts
        if a.tenant_id and a.actor_tenant_id and a.actor_tenant_id != a.tenant_id
    )
    shown = pseudonym(PSEUDONYM_KEY.encode(), "tenant", neighbour)
    mine = every_alert(console, f"viewer:{viewer}")
    left = every_alert(console, f"viewer:{viewer}", not_tenant=shown)
    assert 0 < len(left) < len(mine)

    c = new_console(locale="en-US")
    page = c.login(f"viewer:{viewer}")
    page.goto(f"{console.url}/#/alerts")
    expect(rows(page)).to_have_count(len(mine))
    filter_out(page, shown)
    expect(page).to_have_url(re.compile(rf"not_tenant={shown}"))
    expect(rows(page)).to_have_count(len(left))
    assert shown_ids(page) == set(left)
    expect(page.locator(".chips .chip.neg")).to_contain_text(f"Tenant ≠ {shown}")
    assert neighbour not in page.locator("main").inner_text()
    assert not c.errors, c.errors
