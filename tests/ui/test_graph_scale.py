"""The incident entity graph at a few hundred nodes (the big incident of
`tests/ui/big_incident.py`: one VM escape, then a wide lateral sweep; about 300 entities and 230
alerts, built by the real correlator and served by the real API).

In the browser: every entity is drawn; by host, every VM sits in its tenant's box on its host,
by tenant in its tenant's group, and switching between them (and to the flat layout) works;
the fitted picture fills the canvas, entities and their names do not overlap and group names are
legible; clicking an entity fades all but its neighbourhood and Esc restores it; focusing from the
entity list comes close enough to read; an entity the analyst moved stays there after a reload;
the page logs no error. Timings are printed (run with -s), not asserted; screenshots go to
var/ui-screenshots/graph-scale-*.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.api.seeded import Hour, SeededApi
from tests.ui.big_incident import HOSTS, Big, build, expected_entities, neighbourhood
from tests.ui.conftest import SCREENSHOTS, Console, skip_without_chromium, start_console

pytestmark = [pytest.mark.browser, skip_without_chromium]


@pytest.fixture(scope="module")
def big(hour: Hour, tmp_path_factory: pytest.TempPathFactory) -> Big:
    return build(hour, tmp_path_factory.mktemp("big-estate"))


@pytest.fixture(scope="module")
def console(big: Big, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    """The module's console: the hour and the big incident, on the grown inventory."""
    yield from start_console(tmp_path_factory.mktemp("ui-big-store"), big.hour)


# ---------------------------------------------------------------------------------------------
# What the page drew, read from cytoscape (the instance cytoscape registers on its container).

CY = """(() => {
    const box = document.querySelector('.graph-canvas');
    return box && box._cyreg && box._cyreg.cy;
})()"""

DRAWN = f"""(n) => {{
    const cy = {CY};
    if (!cy || cy.destroyed() || cy.nodes().filter((x) => !x.isParent()).length !== n) return false;
    return [...cy.container().querySelectorAll('canvas')].some((c) => {{
        if (!c.width || !c.height) return false;
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
        return false;
    }});
}}"""

# Leaves, their ancestors and positions; the groups; pairs of leaves whose bodies overlap, and of
# leaf names (all of them in model space, those shown at the current zoom); the smallest top-level
# group name as drawn; how much of the canvas the picture covers.
GEOMETRY = f"""() => {{
    const cy = {CY};
    const z = cy.zoom();
    const leaves = cy.nodes().filter((n) => !n.isParent());
    const hits = (a, b) => a.x1 < b.x2 - 1 && b.x1 < a.x2 - 1
        && a.y1 < b.y2 - 1 && b.y1 < a.y2 - 1;
    const pairs = (boxes) => {{
        let k = 0;
        for (let i = 0; i < boxes.length; i++) {{
            for (let j = i + 1; j < boxes.length; j++) if (hits(boxes[i], boxes[j])) k++;
        }}
        return k;
    }};
    const body = (n) => n.boundingBox({{ includeLabels: false, includeOverlays: false }});
    const label = (n) => n.boundingBox({{
        includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false }});
    const px = (n) => n.pstyle('font-size').pfValue * z;
    const named = leaves.filter((n) => n.pstyle('label').strValue);
    const shown = named.filter((n) => px(n) >= n.pstyle('min-zoomed-font-size').pfValue);
    const parent = {{}};
    const pos = {{}};
    leaves.forEach((n) => {{
        parent[n.id()] = n.ancestors().map((a) => a.id());
        pos[n.id()] = [n.position().x, n.position().y];
    }});
    const box = cy.elements().renderedBoundingBox();
    return {{
        leaves: leaves.length, groups: cy.nodes(':parent').map((n) => n.id()), parent, pos,
        zoom: z, bodyOverlaps: pairs(leaves.map(body)), labelOverlaps: pairs(named.map(label)),
        shown: shown.length, shownOverlaps: pairs(shown.map(label)),
        groupFont: Math.min(...cy.nodes(':parent').orphans().map(px)),
        fill: (box.w * box.h) / (cy.width() * cy.height()),
    }};
}}"""

FADED = f"""() => {{
    const leaves = {CY}.nodes().filter((n) => !n.isParent());
    return {{
        faded: leaves.filter('.faded').map((n) => n.id()),
        clear: leaves.not('.faded').map((n) => n.id()),
    }};
}}"""

# The font size of an entity's name as drawn, and the viewport (zoom, pan).
FONT_PX = f"""(id) => {{
    const cy = {CY};
    return cy.getElementById(id).pstyle('font-size').pfValue * cy.zoom();
}}"""
VIEWPORT = f"() => {{ const cy = {CY}; return [cy.zoom(), cy.pan().x, cy.pan().y]; }}"


def watch(c: Console) -> list[str]:
    """Console errors of the page (a CSP refusal of an inline style shows up only here)."""
    logged: list[str] = []
    c.page.on("console", lambda m: logged.append(m.text) if m.type == "error" else None)
    return logged


def open_graph(c: Console, big: Big, who: str = "soc_analyst") -> tuple[Page, float]:
    """Log in, open the incident and wait for its graph; seconds from opening to drawn."""
    page = c.login(who)
    n = len(expected_entities(big))
    started = time.perf_counter()
    page.goto(f"{c.api.url}/#/incidents/{big.incident.id}")
    page.wait_for_function(DRAWN, arg=n, polling="raf", timeout=60_000)
    return page, time.perf_counter() - started


def geometry(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(GEOMETRY)
    return found


def set_mode(page: Page, big: Big, mode: str) -> None:
    page.locator(f"#gmode-{big.incident.id}").select_option(mode)
    prefix = {"host": "g:h:", "tenant": "g:t:"}.get(mode)
    if prefix:
        page.wait_for_function(
            f"() => {CY}.nodes(':parent').some((n) => n.id().startsWith('{prefix}'))"
        )
    else:
        page.wait_for_function(f"() => {CY}.nodes(':parent').length === 0")
    page.wait_for_function(DRAWN, arg=len(expected_entities(big)), polling="raf")


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("section.graph-card").screenshot(path=SCREENSHOTS / f"graph-scale-{name}.png")


def readable(g: dict[str, Any], where: str) -> None:
    """The fitted overview is not a blob and its names do not pile up."""
    n = g["leaves"]
    assert g["fill"] >= 0.4, f"{where}: the fitted graph covers {g['fill']:.0%} of the canvas"
    assert g["bodyOverlaps"] <= n // 100, f"{where}: {g['bodyOverlaps']} pairs of entities overlap"
    # Names of neighbours never overlap, whatever the zoom (label boxes in model space) ...
    assert g["labelOverlaps"] <= n // 100, f"{where}: {g['labelOverlaps']} pairs of names overlap"
    # ... nor do those shown at the fitted zoom, and group names are legible there.
    assert g["shownOverlaps"] == 0, f"{where}: {g['shownOverlaps']} shown names overlap"
    assert g["groupFont"] >= 7, f"{where}: group names drawn at {g['groupFont']:.1f} px"


def test_big_incident_draws_every_entity_grouped_by_host_and_by_tenant(
    new_console: Callable[..., Console], big: Big
) -> None:
    c = new_console()
    logged = watch(c)
    page, secs = open_graph(c, big)
    expected = expected_entities(big)
    n = len(expected)
    print(
        f"\ngraph-scale: {n} entities, {len(big.incident.alert_ids)} alerts, "
        f"{len(big.incident.edges)} alert links: drawn {secs:.2f} s after opening the incident"
    )
    expect(page.locator(".graph-canvas")).to_have_attribute("aria-label", re.compile(f"{n} 个实体"))
    expect(page.locator(".graph-list summary")).to_have_text(re.compile(rf"[（(]{n}[）)]"))

    # By host: every VM in its tenant's box on its host, every process and container on its host;
    # what has neither is boxed per type.
    by_host = geometry(page)
    assert set(by_host["parent"]) == expected
    chains = by_host["parent"]
    for vm in big.estate.vms:
        if f"vm:{vm.name}" in expected:
            assert chains[f"vm:{vm.name}"] == [f"g:ht:{vm.host}\0{vm.tenant}", f"g:h:{vm.host}"]
    for cid, _, host in big.estate.containers:
        if f"container:{cid}" in expected:
            assert chains[f"container:{cid}"][-1] == f"g:h:{host}"
    for node in expected:
        if node.startswith("process:"):
            assert chains[node] == [f"g:h:{node.split(':')[1]}"]
        if node.startswith("ip:"):
            assert chains[node] == ["g:x:ip"]
    assert {f"g:h:{h}" for h in HOSTS} <= set(by_host["groups"])
    readable(by_host, "by host")
    shoot(page, "zh-host")

    # By tenant: every placed VM in its tenant's group.
    started = time.perf_counter()
    set_mode(page, big, "tenant")
    print(f"graph-scale: regrouped by tenant in {time.perf_counter() - started:.2f} s")
    by_tenant = geometry(page)
    for vm in big.estate.vms:
        if f"vm:{vm.name}" in expected:
            assert by_tenant["parent"][f"vm:{vm.name}"] == [f"g:t:{vm.tenant}"]
    tenants = {t for t in (*big.incident.tenants, *big.incident.actor_tenants)}
    assert {f"g:t:{t}" for t in tenants} <= set(by_tenant["groups"])
    readable(by_tenant, "by tenant")
    shoot(page, "zh-tenant")

    # Flat: the force layout finishes, keeps entities apart, and says grouping reads better.
    started = time.perf_counter()
    set_mode(page, big, "none")
    print(f"graph-scale: flat layout in {time.perf_counter() - started:.2f} s")
    flat = geometry(page)
    assert flat["bodyOverlaps"] <= n // 20, f"flat: {flat['bodyOverlaps']} pairs overlap"
    expect(page.locator(".graph-status")).to_contain_text(f"{n} 个实体")

    # Back by host: the same picture as before (positions are kept per grouping).
    set_mode(page, big, "host")
    again = geometry(page)["pos"]
    assert all(
        abs(again[k][0] - x) <= 1 and abs(again[k][1] - y) <= 1
        for k, (x, y) in by_host["pos"].items()
    )
    assert not logged, logged
    assert not c.errors, c.errors


def client_xy(page: Page, node: str) -> tuple[float, float]:
    """Where the node is drawn, in the page's viewport (the canvas scrolled into view)."""
    page.locator(".graph-canvas").scroll_into_view_if_needed()
    x, y = page.evaluate(
        f"""(id) => {{
            const cy = {CY};
            const p = cy.getElementById(id).renderedPosition();
            const r = cy.container().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }}""",
        node,
    )
    return float(x), float(y)


def test_focus_fades_all_but_the_neighbourhood_and_esc_clears_it(
    new_console: Callable[..., Console], big: Big
) -> None:
    c = new_console(locale="en-US")
    logged = watch(c)
    page, _ = open_graph(c, big)
    shoot(page, "en-host")
    n = len(expected_entities(big))
    ours = set(big.incident.alert_ids)
    stolen = [a for a in big.hour.alerts if a.id in ours and a.detector.endswith("credential-use")]
    vm = sorted(a.vm_id for a in stolen if a.vm_id)[0]  # a VM whose credentials were used
    node = f"vm:{vm}"
    near = neighbourhood(big, node)
    assert 4 <= len(near) < n // 4, near

    page.mouse.click(*client_xy(page, node))  # a click on the canvas
    detail = page.locator(".graph-detail")
    expect(detail.locator("h4")).to_contain_text(vm)
    faded = page.evaluate(FADED)
    assert set(faded["clear"]) == near
    assert len(faded["faded"]) == n - len(near)

    page.locator(".graph-canvas").press("Escape")
    page.wait_for_function(f"() => {CY}.elements('.faded').length === 0")
    expect(detail).to_contain_text("No entity selected")

    # From the entity list, with the keyboard: the neighbourhood, close enough to read.
    page.locator(".graph-list summary").click()
    page.locator(".graph-list").get_by_role("button", name=vm, exact=True).press("Enter")
    expect(detail.locator("h4")).to_contain_text(vm)
    assert set(page.evaluate(FADED)["clear"]) == near
    px = page.evaluate(FONT_PX, node)
    assert px >= 9, f"the focused entity's name is drawn at {px:.1f} px"
    page.locator(".graph-list summary").click()  # closed again, for the picture
    shoot(page, "en-focus")
    assert not logged, logged
    assert not c.errors, c.errors


def test_a_moved_entity_stays_where_the_analyst_left_it_after_a_reload(
    new_console: Callable[..., Console], big: Big
) -> None:
    c = new_console(locale="en-US")
    logged = watch(c)
    page, _ = open_graph(c, big)
    n = len(expected_entities(big))
    before = geometry(page)
    node = f"vm:{big.estate.vms[0].name}"  # the attacker's VM
    x, y = client_xy(page, node)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 45, steps=6)
    page.mouse.up()
    moved = geometry(page)["pos"][node]
    assert abs(moved[0] - before["pos"][node][0]) > 30, (moved, before["pos"][node])
    key = f"fenghuo.graph.v2.{big.incident.id}.host"
    page.wait_for_function(
        """(a) => {
            const s = JSON.parse(sessionStorage.getItem(a.key) || 'null');
            const p = s && s.pos[a.id];
            return Boolean(p) && Math.abs(p[0] - a.x) <= 1 && Math.abs(p[1] - a.y) <= 1;
        }""",
        arg={"key": key, "id": node, "x": moved[0], "y": moved[1]},
    )
    view = page.evaluate(VIEWPORT)

    started = time.perf_counter()
    page.reload()
    page.wait_for_function(DRAWN, arg=n, polling="raf", timeout=60_000)
    secs = time.perf_counter() - started
    print(f"\ngraph-scale: reloaded, {n} entities drawn at kept positions after {secs:.2f} s")
    after = geometry(page)["pos"]
    assert set(after) == set(before["pos"])
    assert after[node] == pytest.approx(moved, abs=1)
    for k, p in before["pos"].items():
        assert after[k] == pytest.approx(p if k != node else moved, abs=1), k
    assert page.evaluate(VIEWPORT) == pytest.approx(view, abs=1e-3)
    assert not logged, logged
    assert not c.errors, c.errors
