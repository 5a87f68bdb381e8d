"""The VM-escape incident of the hour (sequence `escape-cross-tenant`): its page draws the entity
graph (cytoscape's canvas, with pixels on it) and names, in its accessible entity list and in the
canvas's description, the attacker tenant, the victims and the co-resident tenants."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from fenghuo.model.incident import Incident
from tests.api.seeded import SeededApi
from tests.ui.conftest import Console, problem, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]

CANVAS_DRAWN = """(box) => [...box.querySelectorAll('canvas')].some((c) => {
    if (!c.width || !c.height) return false;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
})"""


def escape_incident(api: SeededApi) -> Incident:
    found = [i for i in api.hour.incidents if "escape-cross-tenant" in i.sequences]
    assert found, "the hour has no escape-cross-tenant incident"
    return found[0]


def roles(incident: Incident) -> dict[str, set[str]]:
    actors = set(incident.actor_tenants)
    victims = set(incident.tenants) - actors
    coresident = set(incident.blast_radius.tenants) - actors - victims
    return {"actor": actors, "victim": victims, "coresident": coresident}


def entity_with_role(page: Page, label: str, role: str) -> Locator:
    return (
        page.locator(".graph-list li")
        .filter(has=page.get_by_role("button", name=label, exact=True))
        .locator(f".tag-{role}")
    )


def test_escape_incident_graph_names_attacker_victims_and_coresidents(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    incident = escape_incident(console)
    expected = roles(incident)
    assert all(expected.values()), f"the hour's escape incident lacks a role: {expected}"

    c = new_console(locale="en-US")
    page = c.login("soc_analyst")
    page.goto(f"{console.url}/#/incidents/{incident.id}")
    expect(page.locator("main h1")).to_contain_text(re.compile(r"escape", re.IGNORECASE))
    expect(problem(page, 404)).to_have_count(0)

    box = page.locator(".graph-canvas")
    expect(box).to_be_visible()
    expect(box.locator("canvas").first).to_be_attached()
    page.wait_for_function(CANVAS_DRAWN, arg=box.element_handle())

    # The canvas is described for assistive technology: who attacked, who suffered, who shared.
    label = str(box.get_attribute("aria-label"))
    for tenants in expected.values():
        for tenant in tenants:
            assert tenant in label, f"{tenant} missing from the graph's description: {label}"

    # The entity list (a <details> beside the canvas) names every tenant with its role.
    page.locator(".graph-list summary").click()
    for role, tenants in expected.items():
        for tenant in tenants:
            expect(entity_with_role(page, tenant, role)).to_have_count(1)
    # Hosts of the escape are in the graph too.
    for host in incident.hosts:
        expect(
            page.locator(".graph-list").get_by_role("button", name=host, exact=True)
        ).to_have_count(1)
    assert not c.errors, c.errors


def test_victim_viewer_sees_the_graph_with_other_tenants_by_pseudonym(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    incident = escape_incident(console)
    victim = sorted(roles(incident)["victim"])[0]
    others = set(incident.blast_radius.tenants) | set(incident.actor_tenants)
    others.discard(victim)
    c = new_console(locale="en-US")
    page = c.login(f"viewer:{victim}")
    page.goto(f"{console.url}/#/incidents/{incident.id}")
    box = page.locator(".graph-canvas")
    expect(box).to_be_visible()
    page.wait_for_function(CANVAS_DRAWN, arg=box.element_handle())
    page.locator(".graph-list summary").click()
    expect(entity_with_role(page, victim, "victim")).to_have_count(1)
    listed = page.locator(".graph-list").inner_text()
    assert re.search(r"tenant-[0-9a-f]{12}", listed), listed
    assert not [t for t in others if re.search(rf"(?<![\w-]){t}(?![\w-])", listed)], listed
