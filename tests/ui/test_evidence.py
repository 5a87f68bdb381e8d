"""An alert's evidence in the queue's drawer: the normalised events and their raw records, one
click from the alert, in a real browser against the API and its event archive.

Expected contents come from the hour's events (normalised again from its files), never from the
page: an analyst sees every event the alert names, each raw record exactly as it was read; a
tenant viewer sees its own tenant's events only, the others counted as withheld, and the drawer
names no other tenant.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from fenghuo.model.alert import Alert
from fenghuo.model.events import Event
from tests.api.isolation import load_inventory, scanners
from tests.api.seeded import Hour
from tests.ui.conftest import SCREENSHOTS, Console, settled, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]


def by_id(hour: Hour) -> dict[str, Event]:
    return {e.id: e for e in hour.evidence}


def cross_tenant(hour: Hour) -> tuple[Alert, str]:
    """An alert with events of two tenants, and a tenant of it that owns some but not all."""
    events = by_id(hour)
    for alert in hour.alerts:
        owners = [events[i].tenant_id for i in alert.evidence]
        for tenant in (alert.tenant_id, alert.actor_tenant_id):
            if tenant and tenant in owners and any(o != tenant for o in owners):
                return alert, tenant
    pytest.fail("the hour has no alert with evidence of two owners")


def test_analyst_opens_an_alerts_raw_records(
    new_console: Callable[..., Console], hour: Hour
) -> None:
    events = by_id(hour)
    alert = max(hour.alerts, key=lambda a: len({events[i].source_format for i in a.evidence}))
    c = new_console("en-US")
    c.login("soc_analyst")
    page = c.open(f"#/alerts/{alert.id}")
    settled(page)
    drawer = page.locator("aside.drawer")
    items = drawer.locator(".evidence-event")
    named = list(dict.fromkeys(alert.evidence))
    expect(items).to_have_count(len(named))
    shown = [str(items.nth(i).get_attribute("data-id")) for i in range(len(named))]
    assert sorted(shown) == sorted(named)
    order = [(events[i].event_time, i) for i in shown]
    assert order == sorted(order), "in event time"
    # One click opens an event: its raw record as read, and the normalised fields.
    last = items.nth(len(named) - 1)
    last.locator("summary").click()
    event = events[shown[-1]]
    raw = last.locator("pre.raw")
    expect(raw).to_be_visible()
    assert raw.inner_text() == event.raw.original
    expect(last.locator("pre").nth(1)).to_contain_text(f'"id": "{event.id}"')
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "evidence-en-analyst.png"))
    assert c.errors == []


def test_viewer_sees_its_own_events_only(new_console: Callable[..., Console], hour: Hour) -> None:
    events = by_id(hour)
    alert, tenant = cross_tenant(hour)
    own = [i for i in dict.fromkeys(alert.evidence) if events[i].tenant_id == tenant]
    withheld = len(set(alert.evidence)) - len(own)
    c = new_console("zh-CN")
    c.login(f"viewer:{tenant}")
    page = c.open(f"#/alerts/{alert.id}")
    settled(page)
    drawer = page.locator("aside.drawer")
    items = drawer.locator(".evidence-event")
    expect(items).to_have_count(len(own))
    expect(drawer.locator(".evidence-facts")).to_contain_text(f"{withheld} 个属于其他租户")
    for i in range(len(own)):
        items.nth(i).locator("summary").click()
    leaks = scanners(hour, load_inventory(hour))[tenant]
    assert leaks(drawer.inner_text()) == [], "the drawer names another tenant"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "evidence-zh-viewer.png"))
    assert c.errors == []
