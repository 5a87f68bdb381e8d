"""Tenant isolation, endpoint by endpoint: every operation of the published OpenAPI, called by
every kind of caller, with every object id there is and a random one that does not exist.

The rule under test: every query is scoped on the server by the caller's role and tenant, and a
tenant never sees another tenant's data through any endpoint, filter or error message. Expected
statuses, visible sets and counts come from the replayed hour and the inventory file (see
`tests/api/isolation.py`), never from the API's own scope or pseudonym code.

`OPERATIONS` says how to probe each operation; an operation the OpenAPI publishes and the table
lacks fails `test_every_published_operation_is_probed`, so a new endpoint cannot escape.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fenghuo.model.alert import Alert, Severity
from fenghuo.store.base import AuditEntry, Scope
from fenghuo.store.keys import Role
from tests.api.isolation import (
    API,
    CALLER_KINDS,
    Access,
    LeakScanner,
    Target,
    Who,
    callers,
    expected_status,
    incident_owners,
    load_inventory,
    scanners,
    targets,
    visible_alerts,
    visible_incidents,
    walk,
    words,
)
from tests.api.seeded import Hour, SeededApi, replay_hour, seeded_api

COMMENT = {"action": "comment", "comment": "isolation probe"}


@dataclass(frozen=True)
class Op:
    access: Access
    target: str | None = None  # the kind of object its one path parameter names
    body: dict[str, Any] | None = None  # JSON body (POST without one sends an NDJSON line)
    ok: int = 200  # the status of an allowed call on a visible object
    params: dict[str, Any] | None = None  # query parameters of every call


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/healthz"): Op(Access.PUBLIC),
    ("GET", "/readyz"): Op(Access.PUBLIC),
    # The seeded API has no broker: a known format is refused with 503 by design (no claim).
    ("POST", f"{API}/ingest/{{format_name}}"): Op(Access.INGEST, "format", ok=503),
    ("GET", f"{API}/alerts"): Op(Access.READ),
    ("GET", f"{API}/alerts/{{alert_id}}"): Op(Access.READ, "alert"),
    ("GET", f"{API}/alerts/{{alert_id}}/actions"): Op(Access.READ, "alert"),
    ("GET", f"{API}/alerts/{{alert_id}}/evidence"): Op(Access.READ, "alert"),
    ("POST", f"{API}/alerts/{{alert_id}}/actions"): Op(Access.TRIAGE, "alert", COMMENT),
    ("GET", f"{API}/incidents"): Op(Access.READ),
    ("GET", f"{API}/incidents/{{incident_id}}"): Op(Access.READ, "incident"),
    ("GET", f"{API}/incidents/{{incident_id}}/alerts"): Op(Access.READ, "incident"),
    ("GET", f"{API}/incidents/{{incident_id}}/stix"): Op(Access.READ, "incident"),
    ("GET", f"{API}/feed/deliveries"): Op(Access.TRIAGE),
    ("GET", f"{API}/incidents/{{incident_id}}/actions"): Op(Access.READ, "incident"),
    ("POST", f"{API}/incidents/{{incident_id}}/actions"): Op(Access.TRIAGE, "incident", COMMENT),
    ("GET", f"{API}/suppressions"): Op(Access.READ),
    # Revoking is destructive: each test revokes rules made for it (one per victim tenant).
    ("DELETE", f"{API}/suppressions/{{rule_id}}"): Op(Access.TRIAGE, "new-suppression", ok=204),
    ("GET", f"{API}/tenants"): Op(Access.READ),
    ("GET", f"{API}/tenants/{{tenant_id}}"): Op(Access.READ, "tenant"),
    ("GET", f"{API}/hosts"): Op(Access.READ),
    ("GET", f"{API}/hosts/{{host_id}}"): Op(Access.READ, "host"),
    ("GET", f"{API}/detectors"): Op(Access.READ),
    ("GET", f"{API}/stats"): Op(Access.READ),
    ("GET", f"{API}/audit"): Op(Access.READ),
    ("GET", f"{API}/keys"): Op(Access.ADMIN),
    ("POST", f"{API}/keys"): Op(Access.ADMIN, body={"role": "regulator", "name": "probe"}, ok=201),
    ("DELETE", f"{API}/keys/{{key_id}}"): Op(Access.ADMIN, "new-key"),
    ("GET", f"{API}/collections"): Op(Access.ADMIN),
    ("POST", f"{API}/collections"): Op(Access.ADMIN, body={"title": "probe"}, ok=201),
    ("POST", f"{API}/collections/{{collection_id}}/grants"): Op(
        Access.ADMIN, "collection", body={"key_ids": []}
    ),
    ("GET", f"{API}/reports"): Op(Access.REPORTS),
    ("GET", f"{API}/reports/{{report_id}}"): Op(Access.REPORTS, "report"),
    ("PATCH", f"{API}/reports/{{report_id}}"): Op(
        Access.TRIAGE, "report", body={"sections": {"measures": {"zh": "探测", "en": "probe"}}}
    ),
    # Submitting is final: each test submits update reports made for it.
    ("POST", f"{API}/reports/{{report_id}}/submit"): Op(
        Access.TRIAGE, "new-report", body={"channel": "isolation probe"}
    ),
    ("POST", f"{API}/incidents/{{incident_id}}/reports"): Op(
        Access.TRIAGE, "incident", body={"kind": "update"}, ok=201
    ),
    ("GET", "/metrics"): Op(Access.PUBLIC),
    ("GET", f"{API}/whoami"): Op(Access.ANY_KEY),
    # The live stream ends after its first event (scoped stats, or a regulator's heartbeat).
    ("GET", f"{API}/stream"): Op(Access.REPORTS, params={"max_events": 1}),
}

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("isolation-hour"))


@pytest.fixture(scope="module")
def api(hour: Hour, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    with pytest.MonkeyPatch.context() as env:
        # The matrix fails authentication hundreds of times from one address on purpose; the
        # failed-authentication limiter (tested on its own) would answer 429 to everything.
        env.setenv("FENGHUO_AUTH_FAILURE_LIMIT", "1000000")
        with seeded_api(tmp_path_factory.mktemp("isolation-store"), hour) as running:
            key, token = running.store.keys.create(Role.ADMIN, name="revoked-admin")
            assert running.store.keys.revoke(key.id)
            running.tokens["revoked"] = token
            admin = running.tokens["admin"]  # the admin key's id with a wrong secret
            running.tokens["invalid"] = admin[:-1] + ("0" if admin[-1] != "0" else "1")
            yield running


@pytest.fixture(scope="module")
def inventory(hour: Hour) -> dict[str, Any]:
    return load_inventory(hour)


@pytest.fixture(scope="module")
def leaks(hour: Hour, inventory: dict[str, Any]) -> dict[str, LeakScanner]:
    return scanners(hour, inventory)


@pytest.fixture(scope="module")
def published(api: SeededApi) -> dict[tuple[str, str], dict[str, Any]]:
    response = api.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return {
        (method.upper(), path): operation
        for path, operations in response.json()["paths"].items()
        for method, operation in operations.items()
        if method in _METHODS
    }


# --- the table against the published API ----------------------------------------------------


def test_every_published_operation_is_probed(
    published: dict[tuple[str, str], dict[str, Any]],
) -> None:
    missing = sorted(set(published) - set(OPERATIONS))
    stale = sorted(set(OPERATIONS) - set(published))
    assert not missing, f"published operations missing from OPERATIONS: {missing}"
    assert not stale, f"OPERATIONS lists operations the API does not publish: {stale}"
    for (method, path), op in OPERATIONS.items():
        public = published[(method, path)].get("security") == []
        assert public == (op.access is Access.PUBLIC), f"{method} {path}: security in OpenAPI"


# --- the matrix ------------------------------------------------------------------------------


def call(
    api: SeededApi, method: str, path: str, op: Op, who: Who, target: Target | None
) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", target.id, path) if target is not None else path
    if op.body is not None:
        return api.client.request(method, url, headers=who.headers, json=op.body, params=op.params)
    content = b'{"kind": "probe"}\n' if method == "POST" else None
    return api.client.request(method, url, headers=who.headers, content=content, params=op.params)


def _same_apart_from_id(
    response: httpx.Response, target: Target, baseline: httpx.Response, missing: Target
) -> bool:
    return (response.status_code, response.text.replace(target.id, "<id>")) == (
        baseline.status_code,
        baseline.text.replace(missing.id, "<id>"),
    ) and response.headers.get("content-type") == baseline.headers.get("content-type")


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [(m, p, k) for (m, p) in OPERATIONS for k in CALLER_KINDS],
    ids=[f"{m} {p} as {k}" for (m, p) in OPERATIONS for k in CALLER_KINDS],
)
def test_isolation_matrix(
    api: SeededApi,
    inventory: dict[str, Any],
    leaks: dict[str, LeakScanner],
    method: str,
    path: str,
    kind: str,
) -> None:
    """Each caller of the kind gets the expected status for every id; an id it may not see
    answers exactly like an id that does not exist; a tenant viewer's responses name no other
    tenant."""
    op = OPERATIONS[(method, path)]
    probes: list[Target | None] = list(targets(op.target, api, inventory)) if op.target else [None]
    problems: list[str] = []
    for who in callers(api, kind):
        baseline: tuple[httpx.Response, Target] | None = None
        for target in probes:
            response = call(api, method, path, op, who, target)
            want = expected_status(op.access, op.ok, who, target)
            where = f"{method} {path} as {who.name}"
            if target is not None:
                where += f" on {target.describe()}"
            if response.status_code != want:
                problems.append(
                    f"{where}: {response.status_code}, expected {want}: {response.text[:300]}"
                )
            if target is not None and not target.exists:
                baseline = (response, target)
            elif (
                target is not None
                and baseline is not None
                and want == baseline[0].status_code
                and not _same_apart_from_id(response, target, *baseline)
            ):
                problems.append(
                    f"{where}: answer differs from a nonexistent id's: "
                    f"{response.text[:300]} vs {baseline[0].text[:300]}"
                )
            # The id the caller sent may come back (as in "no tenant <id>"): that is its own.
            text = response.text.replace(target.id, "<id>") if target else response.text
            if who.tenant is not None and (found := leaks[who.tenant](text)):
                problems.append(f"{where}: names another tenant's {', '.join(found)}")
    assert not problems, "\n".join(problems)


# --- lists, filters and figures through a tenant viewer's eyes -----------------------------------

PSEUDONYM = re.compile(r"tenant-[0-9a-f]{12}")


def viewers(api: SeededApi) -> list[Who]:
    return callers(api, "tenant_viewer")


def shown_tenants(api: SeededApi, who: Who) -> dict[str, set[str]]:
    """Real tenant -> the names a viewer was shown for it, over every list and detail that
    carries tenant fields (alerts, incidents with blast radius and graph, incident alerts)."""
    hour = api.hour
    real_alerts = {a.id: a for a in hour.alerts}
    real_incidents = {i.id: i for i in hour.incidents}
    shown: dict[str, set[str]] = {}

    def saw(real: Any, as_shown: Any) -> None:
        shown.setdefault(real, set()).add(as_shown)

    def alert_fields(doc: dict[str, Any]) -> None:
        real = real_alerts[doc["id"]]
        saw(real.tenant_id, doc["tenant_id"])
        if real.actor_tenant_id:
            saw(real.actor_tenant_id, doc["actor_tenant_id"])

    alerts, _ = walk(api, who, f"{API}/alerts", {})
    for item in alerts:
        alert_fields(item["alert"])
        alert_fields(
            api.client.get(f"{API}/alerts/{item['alert']['id']}", headers=who.headers).json()[
                "alert"
            ]
        )
    incidents, _ = walk(api, who, f"{API}/incidents", {})
    for item in incidents:
        real = real_incidents[item["incident"]["id"]]
        detail = api.client.get(f"{API}/incidents/{real.id}", headers=who.headers).json()
        for doc in (item["incident"], detail["incident"]):
            pairs = [
                *zip(real.tenants, doc["tenants"], strict=True),
                *zip(real.actor_tenants, doc["actor_tenants"], strict=True),
                *zip(real.blast_radius.tenants, doc["blast_radius"]["tenants"], strict=True),
            ]
            for node, shown_node in zip(real.nodes, doc["nodes"], strict=True):
                if node.type == "tenant":
                    pairs.append((node.label, shown_node["label"]))
                    pairs.append(
                        (node.id.removeprefix("tenant:"), shown_node["id"].removeprefix("tenant:"))
                    )
            for real_name, as_shown in pairs:
                saw(real_name, as_shown)
        for alert in api.client.get(
            f"{API}/incidents/{real.id}/alerts", headers=who.headers
        ).json()["items"]:
            alert_fields(alert)
    return shown


def test_pseudonyms_are_consistent_and_admins_see_real_ids(api: SeededApi) -> None:
    problems: list[str] = []
    for who in viewers(api):
        shown = shown_tenants(api, who)
        first = api.client.get(f"{API}/alerts", headers=who.headers).text
        if api.client.get(f"{API}/alerts", headers=who.headers).text != first:
            problems.append(f"{who.name}: the same request read differently")
        names: dict[str, str] = {}
        for real, seen in sorted(shown.items()):
            if real == who.tenant:
                if seen != {real}:
                    problems.append(f"{who.name}: its own tenant shown as {sorted(seen)}")
                continue
            if len(seen) != 1 or not PSEUDONYM.fullmatch(next(iter(seen))):
                problems.append(f"{who.name}: another tenant shown as {sorted(seen)}")
                continue
            names[real] = next(iter(seen))
        if len(set(names.values())) != len(names):
            problems.append(f"{who.name}: two tenants share a pseudonym: {names}")
        if len(names) == 0:
            problems.append(f"{who.name}: sees no other tenant: the hour should give it one")
    admin = callers(api, "admin")[0]
    real_alerts = {a.id: a for a in api.hour.alerts}
    for item in walk(api, admin, f"{API}/alerts", {})[0]:
        alert = real_alerts[item["alert"]["id"]]
        if (item["alert"]["tenant_id"], item["alert"]["actor_tenant_id"]) != (
            alert.tenant_id,
            alert.actor_tenant_id,
        ):
            problems.append(f"admin: alert {alert.id} does not show its real tenants")
    assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class Case:
    what: str
    params: dict[str, Any]
    expected: list[str]  # ids, in any order


def filter_cases(
    kind: str, api: SeededApi, who: Who, inventory: dict[str, Any], shown: dict[str, set[str]]
) -> list[Case]:
    """Filters of the alert or incident list with the ids a viewer must get, computed over the
    hour's alerts or incidents it may see."""
    assert who.tenant is not None
    docs: list[Any]
    if kind == "alerts":
        docs = visible_alerts(api.hour, who.tenant)

        def involves(doc: Any, tenant: str) -> bool:
            return tenant in (doc.tenant_id, doc.actor_tenant_id)

        def on_host(doc: Any, host: str) -> bool:
            return bool(doc.host_id == host)
    else:
        docs = visible_incidents(api.hour, who.tenant)

        def involves(doc: Any, tenant: str) -> bool:
            return tenant in (*doc.tenants, *doc.actor_tenants)

        def on_host(doc: Any, host: str) -> bool:
            return host in doc.hosts

    def ids(keep: Any = lambda _d: True) -> list[str]:
        return [d.id for d in docs if keep(d)]

    cases = [
        Case("no filter", {}, ids()),
        Case("pages of 2", {"limit": 2}, ids()),
        Case("its own tenant", {"tenant": who.tenant}, ids()),
        Case("min_severity=high", {"min_severity": "high"}, ids(lambda d: d.severity.rank >= 3)),
        Case("no such tenant", {"tenant": "no-such-tenant"}, []),
        Case("no such word", {"q": "nosuchwordanywhere"}, []),
    ]
    for severity in sorted({d.severity for d in docs}):
        cases.append(
            Case(
                f"severity={severity}",
                {"severity": severity.value},
                ids(lambda d, s=severity: d.severity == s),
            )
        )
    hosts = {h for d in docs for h in ((d.host_id,) if isinstance(d, Alert) else d.hosts) if h}
    for host in sorted(hosts):
        cases.append(Case(f"host={host}", {"host": host}, ids(lambda d, h=host: on_host(d, h))))
        cases.append(
            Case(f"not_host={host}", {"not_host": host}, ids(lambda d, h=host: not on_host(d, h)))
        )
    cases.append(Case("not_tenant=its own tenant", {"not_tenant": who.tenant}, []))
    if kind == "alerts":
        for detector in sorted({a.detector for a in visible_alerts(api.hour, who.tenant)}):
            cases.append(
                Case(
                    f"detector={detector}",
                    {"detector": detector},
                    ids(lambda d, x=detector: d.detector == x),
                )
            )
    for real, seen in sorted(shown.items()):
        if real == who.tenant:
            continue
        pseudo = next(iter(seen))
        cases.append(
            Case(
                f"tenant=<pseudonym of {real}>",
                {"tenant": pseudo},
                ids(lambda d, t=real: involves(d, t)),
            )
        )
        cases.append(
            Case(
                f"not_tenant=<pseudonym of {real}>",
                {"not_tenant": pseudo},
                ids(lambda d, t=real: not involves(d, t)),
            )
        )
        cases.append(
            Case(
                f"q=<pseudonym of {real}>",
                {"q": pseudo},
                ids(lambda d, t=real: t in words(f"{d.title} {d.summary}")),
            )
        )
    for tenant in inventory["tenants"]:
        if tenant["id"] != who.tenant:
            cases.append(Case(f"tenant={tenant['id']} (real id)", {"tenant": tenant["id"]}, []))
            cases.append(Case(f"q={tenant['id']} (real id)", {"q": tenant["id"]}, []))
            # A real name means nothing to a viewer: it excludes nothing.
            cases.append(
                Case(f"not_tenant={tenant['id']} (real id)", {"not_tenant": tenant["id"]}, ids())
            )
    # Other tenants' VMs, first those named in the text of what the viewer sees.
    others = [
        vm["name"]
        for h in inventory["hosts"]
        for vm in h.get("vms", [])
        if vm["tenant"] != who.tenant
    ]
    named = [vm for vm in others if any(vm in f"{d.title} {d.summary}" for d in docs)]
    for vm in [*named, *others[:1]]:
        cases.append(Case(f"q={vm} (another tenant's VM)", {"q": vm}, []))
    return cases


@pytest.mark.parametrize("kind", ["alerts", "incidents"])
def test_viewer_lists_and_filters_select_exactly_what_it_may_see(
    api: SeededApi, inventory: dict[str, Any], leaks: dict[str, LeakScanner], kind: str
) -> None:
    problems: list[str] = []
    for who in viewers(api):
        assert who.tenant is not None
        shown = shown_tenants(api, who)
        empty: str | None = None
        for case in filter_cases(kind, api, who, inventory, shown):
            where = f"GET {API}/{kind}?{case.what} as {who.name}"
            items, text = walk(api, who, f"{API}/{kind}", case.params)
            got = [i["alert" if kind == "alerts" else "incident"]["id"] for i in items]
            if sorted(got) != sorted(case.expected):
                problems.append(
                    f"{where}: {len(got)} items {sorted(got)}, "
                    f"expected {len(case.expected)} {sorted(case.expected)}"
                )
            if found := leaks[who.tenant](text):
                problems.append(f"{where}: names another tenant's {', '.join(found)}")
            if not case.expected and case.params.get("q") is None:
                # Selecting nothing: a real id of another tenant reads like a made-up one.
                empty = empty or text
                if text != empty:
                    problems.append(f"{where}: answered {text} where nothing gave {empty}")
    assert not problems, "\n".join(problems)


def _get(api: SeededApi, who: Who, path: str, **params: Any) -> Any:
    response = api.client.get(path, headers=who.headers, params=params)
    assert response.status_code == 200, f"{path} as {who.name}: {response.text}"
    return response.json()


def _severities(alerts: list[Any]) -> dict[str, int]:
    counts = Counter(a.severity.value for a in alerts)
    return {s.value: counts.get(s.value, 0) for s in Severity}


def _risk(incidents: list[Any]) -> dict[str, Any]:
    """Open incidents' figures (every incident is open: this module only comments)."""
    grades = {"IV": 1, "III": 2, "II": 3, "I": 4}
    return {
        "open_incidents": len(incidents),
        "highest_severity": max((i.severity for i in incidents), key=lambda s: s.rank).value
        if incidents
        else None,
        "highest_grade": max((i.grade.value for i in incidents), key=grades.__getitem__)
        if incidents
        else None,
        "risk": max((i.risk_score for i in incidents), default=0.0),
    }


def test_viewer_figures_count_only_what_it_may_see(
    api: SeededApi, inventory: dict[str, Any]
) -> None:
    """Tenants, hosts, detectors, statistics, audit, suppression rules and an incident's alerts
    through each viewer's eyes, against counts over the alerts and incidents it may see."""
    problems: list[str] = []

    def check(where: str, got: Any, expected: Any) -> None:
        if got != expected:
            problems.append(f"{where} as {who.name}: {got!r}, expected {expected!r}")

    for who in viewers(api):
        tenant = who.tenant
        assert tenant is not None
        alerts, incidents = visible_alerts(api.hour, tenant), visible_incidents(api.hour, tenant)
        own_tenant = {
            "alerts": _severities(alerts),
            "alert_total": len(alerts),
            "incidents": _risk(incidents),
        }
        listed = _get(api, who, f"{API}/tenants")["items"]
        check("GET /tenants ids", [t["tenant_id"] for t in listed], [tenant])
        for doc in (*listed, _get(api, who, f"{API}/tenants/{tenant}")):
            got = {
                "alerts": doc["alerts"]["by_severity"],
                "alert_total": doc["alerts"]["total"],
                "incidents": doc["incidents"],
            }
            check("GET /tenants figures", got, own_tenant)

        placements = {
            h["id"]: (
                sorted(v["name"] for v in h.get("vms", []) if v["tenant"] == tenant),
                sorted(c["id"] for c in h.get("containers", []) if c["tenant"] == tenant),
            )
            for h in inventory["hosts"]
        }
        mine = sorted(h for h, (vms, containers) in placements.items() if vms or containers)
        hosts = _get(api, who, f"{API}/hosts")["items"]
        check("GET /hosts ids", [h["host_id"] for h in hosts], mine)
        for host in hosts:
            h = host["host_id"]
            check(
                f"GET /hosts {h} workloads",
                (
                    sorted(v["name"] for v in host["vms"]),
                    sorted(c["id"] for c in host["containers"]),
                ),
                placements.get(h),
            )
            check(
                f"GET /hosts {h} alerts",
                host["alerts"]["total"],
                sum(a.host_id == h for a in alerts),
            )
            check(
                f"GET /hosts {h} incidents",
                host["incidents"]["open_incidents"],
                sum(h in i.hosts for i in incidents),
            )

        hits = Counter(a.detector for a in alerts)
        for detector in _get(api, who, f"{API}/detectors")["items"]:
            d = detector["id"]
            newest = max((a.first_seen for a in alerts if a.detector == d), default=None)
            last = detector["last_hit"]
            check(
                f"GET /detectors {d}",
                (detector["hits"], dt.datetime.fromisoformat(last) if last else None),
                (hits.get(d, 0), newest),
            )

        stats = _get(api, who, f"{API}/stats")
        check(
            "GET /stats alerts",
            (stats["alerts"]["total"], stats["alerts"]["by_severity"]),
            (len(alerts), _severities(alerts)),
        )
        check(
            "GET /stats by_detector",
            {k: v for k, v in stats["by_detector"].items() if v},
            dict(hits),
        )
        check(
            "GET /stats top_hosts",
            {h["host_id"]: h["alerts"] for h in stats["top_hosts"]},
            dict(Counter(a.host_id for a in alerts if a.host_id)),
        )
        check("GET /stats incidents", stats["incidents"]["total"], len(incidents))
        check("GET /stats rate", sum(p["alerts"] for p in stats["rate"]), len(alerts))
        pseudonyms = {
            p for real, seen in shown_tenants(api, who).items() if real != tenant for p in seen
        }
        for risk in stats["tenants_at_risk"]:
            if risk["tenant_id"] != tenant and risk["tenant_id"] not in pseudonyms:
                problems.append(f"GET /stats as {who.name}: tenant at risk {risk['tenant_id']}")

        audit = walk(api, who, f"{API}/audit", {"limit": 50})[0]
        expected_audit = sorted(e.id for e in _all_audit(api) if e.tenant_id == tenant)
        check("GET /audit ids", sorted(e["id"] for e in audit), expected_audit)
        rules = _get(api, who, f"{API}/suppressions")["items"]
        check(
            "GET /suppressions ids",
            sorted(r["id"] for r in rules),
            sorted(
                r.id
                for r in api.store.suppressions.list(Scope.everything())
                if r.tenant_id == tenant
            ),
        )
        for incident in incidents:
            got_alerts = _get(api, who, f"{API}/incidents/{incident.id}/alerts")["items"]
            check(
                f"GET /incidents/{incident.id}/alerts",
                [a["id"] for a in got_alerts],
                [a for a in incident.alert_ids if a in {x.id for x in alerts}],
            )
    assert not problems, "\n".join(problems)


def _all_audit(api: SeededApi) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    cursor: str | None = None
    while True:
        page = api.store.audit.list(Scope.everything(), limit=500, cursor=cursor)
        entries += page.items
        cursor = page.next_cursor
        if cursor is None:
            return entries


# --- triage across tenants, and errors ------------------------------------------------------------


def _post(api: SeededApi, who: Who, path: str, body: dict[str, Any]) -> httpx.Response:
    return api.client.post(path, headers=who.headers, json=body)


def test_triage_across_tenants_and_who_sees_it(
    api: SeededApi, inventory: dict[str, Any], leaks: dict[str, LeakScanner]
) -> None:
    hour = api.hour
    alert = next(a for a in hour.alerts if a.actor_tenant_id)
    victim, actor = alert.tenant_id, alert.actor_tenant_id
    assert victim is not None
    assert actor is not None
    by_tenant = {w.tenant: w for w in viewers(api)}
    unrelated = next(t for t in hour.tenants if t not in (victim, actor))
    soc, admin = callers(api, "soc_analyst")[0], callers(api, "admin")[0]
    neighbour = next(
        vm for h in inventory["hosts"] for vm in h.get("vms", []) if vm["tenant"] == unrelated
    )
    # An analyst's note may name anyone; a viewer reads it with other tenants hidden.
    note = f"soc checked; compare {neighbour['name']} of {unrelated} ({neighbour['ips'][0]})"
    acted = _post(
        api, soc, f"{API}/alerts/{alert.id}/actions", {"action": "comment", "comment": note}
    )
    assert acted.status_code == 200, acted.text
    state = acted.json()["state"]

    for tenant in (victim, actor):
        who = by_tenant[tenant]
        view = _get(api, who, f"{API}/alerts/{alert.id}")
        assert view["state"] == state, f"{who.name} reads another state"
        log = api.client.get(f"{API}/alerts/{alert.id}/actions", headers=who.headers)
        assert any(a["comment"].startswith("soc checked") for a in log.json()["items"])
        assert not leaks[tenant](log.text), f"{who.name}: {leaks[tenant](log.text)}"
    audit = walk(api, by_tenant[victim], f"{API}/audit", {})[0]
    assert [e for e in audit if e["target"] == f"alert:{alert.id}"], "victim misses the entry"
    outsider = by_tenant[unrelated]
    assert not [e for e in walk(api, outsider, f"{API}/audit", {})[0] if alert.id in e["target"]], (
        f"{outsider.name} reads the audit entry of another tenant's alert"
    )
    hidden = api.client.get(f"{API}/alerts/{alert.id}/actions", headers=outsider.headers)
    assert hidden.status_code == 404, hidden.text

    incident = next(i for i in hour.incidents if len(incident_owners(i)) > 1)
    acked = _post(api, admin, f"{API}/incidents/{incident.id}/actions", {"action": "acknowledge"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"]["status"] == "acknowledged"
    for tenant in incident_owners(incident):
        view = _get(api, by_tenant[tenant], f"{API}/incidents/{incident.id}")
        assert view["state"]["status"] == "acknowledged", by_tenant[tenant].name

    missing = str(uuid.uuid4())
    for path in (f"{API}/alerts/{missing}/actions", f"{API}/incidents/{missing}/actions"):
        refused = _post(api, soc, path, {"action": "acknowledge"})
        assert refused.status_code == 404, f"{path} as soc_analyst: {refused.text}"
    for tenant in (victim, actor):  # even on an alert of its own
        refused = _post(api, by_tenant[tenant], f"{API}/alerts/{alert.id}/actions", COMMENT)
        assert refused.status_code == 403, refused.text


def test_errors_do_not_echo_other_tenants(
    api: SeededApi, inventory: dict[str, Any], leaks: dict[str, LeakScanner]
) -> None:
    """Malformed requests built from another tenant's identifiers: the problem document names
    nothing of another tenant beyond the caller's own input."""
    problems: list[str] = []
    for who in viewers(api):
        assert who.tenant is not None
        other = next(t for t in inventory["tenants"] if t["id"] != who.tenant)
        vm = next(
            v for h in inventory["hosts"] for v in h.get("vms", []) if v["tenant"] == other["id"]
        )
        name, account, ip = other["id"], str(other["accounts"][0]), str(vm["ips"][0])
        probes: list[tuple[str, dict[str, Any]]] = []
        for path in (f"{API}/alerts", f"{API}/incidents"):
            probes += [
                (path, {"since": name}),
                (path, {"until": vm["name"]}),
                (path, {"limit": account}),
                (path, {"severity": name}),
                (path, {"min_severity": vm["uuid"]}),
                (path, {"status": ip}),
                (path, {"cursor": name}),
                (path, {"tenant": name * 60}),  # over 200 characters
                (path, {"q": f"{vm['name']} " * 60}),  # over 500 characters
            ]
        probes += [
            (f"{API}/stats", {"bucket": name}),
            (f"{API}/stats", {"since": ip}),
            (f"{API}/detectors", {"until": vm["name"]}),
            (f"{API}/audit", {"cursor": vm["name"]}),
            (f"{API}/audit", {"limit": name}),
            (f"{API}/alerts/{vm['name'] * 30}", {}),
            (f"{API}/tenants/{name * 60}", {}),
        ]
        for path, params in probes:
            response = api.client.get(path, headers=who.headers, params=params)
            where = f"GET {path} {params} as {who.name}"
            if response.status_code not in (400, 422):
                problems.append(f"{where}: {response.status_code}, expected 400 or 422")
            text = response.text
            for value in (*params.values(), path.rsplit("/", 1)[-1]):
                text = text.replace(str(value), "<input>")
            if found := leaks[who.tenant](text):
                problems.append(f"{where}: names {', '.join(found)}: {response.text[:300]}")
    assert not problems, "\n".join(problems)
