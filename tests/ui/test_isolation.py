"""A tenant viewer cannot reach another tenant's alert, incident, host or report by URL: the page
shows the API's 404 (the same as for a missing object), and no identifier of another tenant
(from the inventory file: ids, names, accounts, VPCs, VM names, uuids, instance ids, addresses,
interfaces, containers) appears anywhere in the page, not even in its markup. The pages the
viewer may open show other tenants by pseudonym only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.api.isolation import LeakScanner, hidden_identifiers
from tests.api.seeded import SeededApi
from tests.ui.conftest import API, Console, problem, settled, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]

NEVER = "00000000-0000-5000-8000-000000000000"  # an id nothing has


def viewer_tenant(api: SeededApi) -> str:
    """The tenant whose viewer sees a cross-tenant incident (other tenants by pseudonym) and
    still has other tenants' objects to be refused."""
    escape = next(i for i in api.hour.incidents if "escape-cross-tenant" in i.sequences)
    return sorted(escape.tenants)[0]


def refused(api: SeededApi, who: str, kind: str, ids: list[str]) -> str:
    """The first id of `kind` the API answers 404 for `who` (checked, not assumed)."""
    for object_id in ids:
        if api.get(who, f"{API}/{kind}/{object_id}").status_code == 404:
            assert api.get("admin", f"{API}/{kind}/{object_id}").status_code == 200
            return object_id
    raise AssertionError(f"no {kind} of another tenant to probe among {len(ids)}")


def leaks(page: Page, scanner: LeakScanner) -> list[str]:
    text = page.locator("body").inner_text() + "\n" + page.content() + "\n" + page.title()
    return scanner(text)


def foreign_objects(api: SeededApi) -> dict[str, str]:
    tenant = viewer_tenant(api)
    who = f"viewer:{tenant}"
    alerts = [a.id for a in api.hour.alerts if tenant not in (a.tenant_id, a.actor_tenant_id)]
    incidents = [i.id for i in api.hour.incidents if tenant not in (*i.tenants, *i.actor_tenants)]
    hosts = [h["host_id"] for h in api.get("admin", f"{API}/hosts").json()["items"]]
    reports = [r["id"] for r in api.get("admin", f"{API}/reports", limit=200).json()["items"]]
    return {
        "alerts": refused(api, who, "alerts", alerts),
        "incidents": refused(api, who, "incidents", incidents),
        "hosts": refused(api, who, "hosts", hosts),
        "reports": refused(api, who, "reports", reports),
    }


@pytest.fixture(scope="module")
def scanner(console: SeededApi, inventory_doc: dict[str, Any]) -> LeakScanner:
    return LeakScanner(hidden_identifiers(inventory_doc, viewer_tenant(console)))


@pytest.mark.parametrize("kind", ["alerts", "incidents", "hosts", "reports"])
def test_another_tenants_object_is_not_found_by_url(
    new_console: Callable[..., Console], console: SeededApi, scanner: LeakScanner, kind: str
) -> None:
    object_id = foreign_objects(console)[kind]
    c = new_console()
    page = c.login(f"viewer:{viewer_tenant(console)}")
    page.goto(f"{console.url}/#/{kind}/{object_id}")
    expect(problem(page, 404)).to_be_visible()
    expect(problem(page, 403)).to_have_count(0)
    assert not leaks(page, scanner), leaks(page, scanner)
    # The same page for an id that never existed reads the same (the API answers both alike).
    shown = page.locator("main").inner_text().replace(object_id, "<id>")
    page.goto(f"{console.url}/#/{kind}/{NEVER}")
    expect(problem(page, 404)).to_be_visible()
    missing = page.locator("main").inner_text().replace(NEVER, "<id>")
    assert shown == missing


def test_the_viewers_own_pages_name_other_tenants_only_by_pseudonym(
    new_console: Callable[..., Console], console: SeededApi, scanner: LeakScanner
) -> None:
    tenant = viewer_tenant(console)
    escape = next(i for i in console.hour.incidents if "escape-cross-tenant" in i.sequences)
    c = new_console()
    page = c.login(f"viewer:{tenant}")
    for hash_ in ("#/overview", "#/alerts", "#/incidents", f"#/incidents/{escape.id}"):
        page.goto(f"{console.url}/{hash_}")
        settled(page)
        for status in (403, 404):
            expect(problem(page, status)).to_have_count(0)
        # Other tenants do appear, by pseudonym, on the cross-tenant incident.
        if hash_.startswith("#/incidents/"):
            expect(page.locator("main")).to_contain_text(re.compile(r"tenant-[0-9a-f]{12}"))
        found = leaks(page, scanner)
        assert not found, f"{hash_} shows {found}"
