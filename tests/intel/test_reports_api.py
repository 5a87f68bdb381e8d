"""`/api/v1/reports` over the simulated hour with a fixed, movable clock (no sleeps): overdue
reports in the list, `/stats` and `/metrics`; edits, submission and their audit; update drafts;
the HTML export; what each role and tenant sees."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fenghuo.api.deps import Services
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.intel.collections import Collection, CollectionFilter, new_collection_id
from fenghuo.intel.feed import FeedWriter
from fenghuo.intel.reports import Report, ReportQuery, sync_reports
from fenghuo.intel.stix import incident_stix_id
from fenghuo.inventory import InventoryStore
from fenghuo.model.incident import Grade, Incident
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings
from fenghuo.store.base import Scope
from fenghuo.store.keys import ApiKey, Role
from fenghuo.store.sqlite import SqliteStore
from tests.api.isolation import LeakScanner, hidden_identifiers, load_inventory
from tests.api.seeded import PSEUDONYM_KEY, Hour

API = "/api/v1"
PSEUDONYM = re.compile(r"tenant-[0-9a-f]{12}")


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class ReportsApi:
    client: httpx.Client
    store: SqliteStore
    clock: Clock
    hour: Hour
    keys: dict[str, ApiKey] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **params: Any) -> Any:
        response = self.client.get(path, headers=self.auth(who), params=params)
        assert response.status_code == 200, f"{path} as {who}: {response.text}"
        return response.json()

    def reports(self) -> list[Report]:
        return self.store.reports.list(Scope.everything(), ReportQuery(), self.clock())

    def regulator(self, who: str) -> ApiKey:
        """A new regulator key, known as `who`."""
        self.keys[who], self.tokens[who] = self.store.keys.create(Role.REGULATOR)
        return self.keys[who]

    def collection(self, title: str, reader: str, **filters: Any) -> Collection:
        """A new collection (filter `filters`) granted to `reader`."""
        collection = Collection(
            id=new_collection_id(),
            title=title,
            filter=CollectionFilter(**filters),
            created_at=self.clock.now,
        )
        self.store.collections.create(collection)
        return self.store.collections.grant(collection.id, [self.keys[reader].id])

    def feed(self, incidents: list[Incident]) -> None:
        """Write these incidents to every collection that selects them (the feed writer)."""
        inventory = InventoryStore(self.hour.root / "inventory.yaml")
        writer = FeedWriter(self.store, PSEUDONYM_KEY.encode(), inventory.current, clock=self.clock)
        writer.write(incidents)


@pytest.fixture
def api(hour: Hour, tmp_path: Path) -> Iterator[ReportsApi]:
    settings = Settings(data_dir=tmp_path / "var", pseudonym_key=PSEUDONYM_KEY)
    store = SqliteStore(settings.db_path)
    store.alerts.upsert(hour.alerts)
    store.incidents.upsert(hour.incidents)
    inventory = InventoryStore(hour.root / "inventory.yaml")
    clock = Clock(min(i.updated_at for i in hour.incidents))
    sync_reports(store, hour.incidents, inventory.current(), clock())
    services = Services(settings, store, None, lambda: True, inventory.current, clock=clock)
    port = free_port()
    server = ApiServer(services, "127.0.0.1", port)
    server.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    running = ReportsApi(client, store, clock, hour)
    for role in (Role.ADMIN, Role.SOC_ANALYST, Role.REGULATOR, Role.INGEST):
        running.keys[role.value], running.tokens[role.value] = store.keys.create(role)
    for tenant in hour.tenants:
        who = f"viewer:{tenant}"
        running.keys[who], running.tokens[who] = store.keys.create(Role.TENANT_VIEWER, tenant)
    try:
        with client:
            yield running
    finally:
        server.stop()
        store.close()


def _gauge(text: str) -> float:
    (line,) = [x for x in text.splitlines() if x.startswith("fenghuo_reports_overdue")]
    name, value = line.split()
    assert name == "fenghuo_reports_overdue", "the gauge carries no labels"
    return float(value)


def test_overdue_reports_in_the_list_stats_and_metrics(api: ReportsApi) -> None:
    reports = api.reports()
    dues = sorted(r.due_at for r in reports if r.due_at is not None)
    assert len(dues) == len(reports) > 0
    api.clock.now = dues[0] - dt.timedelta(minutes=1)
    assert api.get("admin", f"{API}/reports", state="overdue")["items"] == []
    assert api.get("admin", f"{API}/stats")["reports_overdue"] == 0
    assert _gauge(api.client.get("/metrics").text) == 0
    listed = api.get("admin", f"{API}/reports")["items"]
    assert [r["due_at"] for r in listed] == sorted(r["due_at"] for r in listed)
    assert {r["state"] for r in listed} == {"due"}

    api.clock.now = dues[-1] + dt.timedelta(minutes=1)  # every first report is late now
    overdue = api.get("admin", f"{API}/reports", state="overdue")["items"]
    assert sorted(r["id"] for r in overdue) == sorted(r.id for r in reports)
    assert {r["state"] for r in overdue} == {"overdue"}
    assert api.get("admin", f"{API}/stats")["reports_overdue"] == len(reports)
    metrics = api.client.get("/metrics").text
    assert _gauge(metrics) == len(reports)
    for tenant in api.hour.tenants:
        own = [r for r in reports if r.tenant_id == tenant]
        stats = api.get(f"viewer:{tenant}", f"{API}/stats")
        assert stats["reports_overdue"] == len(own), tenant

    # Submitting one takes it out of the overdue figures at once.
    first = overdue[0]["id"]
    submitted = api.client.post(
        f"{API}/reports/{first}/submit", headers=api.auth("soc_analyst"), json={"channel": "phone"}
    )
    assert submitted.status_code == 200, submitted.text
    assert api.get("admin", f"{API}/stats")["reports_overdue"] == len(reports) - 1
    assert _gauge(api.client.get("/metrics").text) == len(reports) - 1


def test_edit_submit_and_audit(api: ReportsApi) -> None:
    report = api.reports()[0]
    path = f"{API}/reports/{report.id}"
    soc = api.auth("soc_analyst")
    body = {"sections": {"measures": {"zh": "已隔离受影响虚拟机", "en": "Affected VMs isolated"}}}
    edited = api.client.patch(path, headers=soc, json=body)
    assert edited.status_code == 200, edited.text
    (measures,) = [s for s in edited.json()["sections"] if s["key"] == "measures"]
    assert (measures["zh"], measures["en"]) == ("已隔离受影响虚拟机", "Affected VMs isolated")
    unknown = api.client.patch(path, headers=soc, json={"sections": {"nonsense": {"zh": "x"}}})
    assert unknown.status_code == 422, unknown.text

    at = api.clock.now - dt.timedelta(minutes=2)
    sent = api.client.post(
        f"{path}/submit",
        headers=soc,
        json={"channel": "12387 platform", "submitted_at": at.isoformat(), "submitted_by": "王工"},
    )
    assert sent.status_code == 200, sent.text
    doc = sent.json()
    assert doc["state"] == "submitted"
    assert (doc["channel"], doc["submitted_by"]) == ("12387 platform", "王工")
    assert dt.datetime.fromisoformat(doc["submitted_at"]) == at
    again = api.client.post(f"{path}/submit", headers=soc, json={"channel": "phone"})
    assert again.status_code == 409, again.text
    late_edit = api.client.patch(path, headers=soc, json=body)
    assert late_edit.status_code == 409, late_edit.text

    audit = api.get("admin", f"{API}/audit")["items"]
    mine = [e for e in audit if e["target"] == f"report:{report.id}"]
    assert sorted(e["action"] for e in mine) == ["report.edit", "report.submit"]
    assert {e["tenant_id"] for e in mine} == {report.tenant_id}
    if report.tenant_id is not None:
        seen = api.get(f"viewer:{report.tenant_id}", f"{API}/audit")["items"]
        assert {e["target"] for e in seen} >= {f"report:{report.id}"}


def test_update_reports_are_numbered_and_duplicates_refused(api: ReportsApi) -> None:
    incident = next(i for i in api.hour.incidents if i.grade is not Grade.IV)
    path = f"{API}/incidents/{incident.id}/reports"
    admin = api.auth("admin")
    first = api.client.post(path, headers=admin, json={})
    second = api.client.post(path, headers=admin, json={"kind": "update"})
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert [first.json()["sequence"], second.json()["sequence"]] == [1, 2]
    assert first.json()["kind"] == "update"
    assert first.json()["state"] == "draft"  # no deadline
    assert [s["key"] for s in first.json()["sections"]][:2] == ["progress", "preliminary_cause"]
    assert api.client.post(path, headers=admin, json={"kind": "initial"}).status_code == 409
    missing = api.client.post(f"{API}/incidents/no-such-incident/reports", headers=admin, json={})
    assert missing.status_code == 404
    listed = api.get("admin", f"{API}/reports", incident=incident.id, kind="update")["items"]
    assert sorted(r["sequence"] for r in listed) == [1, 2]


def test_html_export_is_escaped_chinese_first_and_self_contained(api: ReportsApi) -> None:
    report = api.reports()[0]
    hostile = '<script>alert("x")</script> & <img src=x onerror=1> 攻击'
    body = {"sections": {"trend": {"zh": f"中文 {hostile}", "en": f"English {hostile}"}}}
    patched = api.client.patch(f"{API}/reports/{report.id}", headers=api.auth("admin"), json=body)
    assert patched.status_code == 200, patched.text
    page = api.client.get(
        f"{API}/reports/{report.id}", headers=api.auth("admin"), params={"format": "html"}
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in html
    assert "@media print" in html
    assert not re.search(r"https?://|src=|href=|@import", html.replace("src=x", ""))
    assert html.index("报告单位") < html.index("Reporting unit")
    assert html.index("中文 &lt;script") < html.index("English &lt;script")
    for title_zh, title_en in (
        ("受影响系统/平台", "Affected system"),
        ("已采取的措施", "Measures"),
    ):
        assert html.index(title_zh) < html.index(title_en)


def test_roles_and_tenants(api: ReportsApi) -> None:
    reports = api.reports()
    by_tenant = {t: {r.id for r in reports if r.tenant_id == t} for t in api.hour.tenants}
    missing = "00000000-0000-5000-8000-000000000000"
    inventory = load_inventory(api.hour)
    for tenant in api.hour.tenants:
        who = f"viewer:{tenant}"
        listed = api.get(who, f"{API}/reports")["items"]
        assert {r["id"] for r in listed} == by_tenant[tenant], tenant
        scan = LeakScanner(hidden_identifiers(inventory, tenant))
        for r in listed:
            page = api.client.get(f"{API}/reports/{r['id']}", headers=api.auth(who))
            assert not scan(page.text), scan(page.text)
        nobody = api.client.get(f"{API}/reports/{missing}", headers=api.auth(who))
        for other in (r for r in reports if r.tenant_id != tenant):
            hidden = api.client.get(f"{API}/reports/{other.id}", headers=api.auth(who))
            assert hidden.status_code == 404
            assert hidden.text.replace(other.id, "<id>") == nobody.text.replace(missing, "<id>")
        if by_tenant[tenant]:
            report = next(iter(by_tenant[tenant]))
            refused = api.client.patch(
                f"{API}/reports/{report}", headers=api.auth(who), json={"sections": {"x": {}}}
            )
            assert refused.status_code == 403
    assert api.client.get(f"{API}/reports", headers=api.auth("ingest")).status_code == 403

    # A regulator reads nothing until granted a collection, then its incidents' reports.
    assert api.get("regulator", f"{API}/reports")["items"] == []
    assert (
        api.client.get(f"{API}/reports/{reports[0].id}", headers=api.auth("regulator")).status_code
        == 404
    )
    api.collection("重大及以上", "regulator", min_grade=Grade.II)
    assert api.get("regulator", f"{API}/reports")["items"] == []  # nothing written to it yet
    api.feed(api.hour.incidents)  # the writer puts the incidents its filter selects in it
    serious = {i.id for i in api.hour.incidents if i.grade in (Grade.I, Grade.II)}
    listed = api.get("regulator", f"{API}/reports")["items"]
    assert {r["incident_id"] for r in listed} == serious
    scan_all = LeakScanner(hidden_identifiers(inventory, ""))
    for r in listed:
        assert r["tenant_id"] is None or PSEUDONYM.fullmatch(r["tenant_id"]), r["tenant_id"]
        page = api.client.get(
            f"{API}/reports/{r['id']}", headers=api.auth("regulator"), params={"format": "html"}
        )
        assert page.status_code == 200
        assert not scan_all(page.text), scan_all(page.text)
    lesser = next(r for r in reports if r.incident_id not in serious)
    assert (
        api.client.get(f"{API}/reports/{lesser.id}", headers=api.auth("regulator")).status_code
        == 404
    )
    refused = api.client.post(
        f"{API}/reports/{listed[0]['id']}/submit",
        headers=api.auth("regulator"),
        json={"channel": "x"},
    )
    assert refused.status_code == 403


def test_a_regulator_reads_the_reports_of_what_its_collections_hold(api: ReportsApi) -> None:
    """A regulator's reports are those of the incidents with objects in its granted collections
    (what it receives on TAXII), not of those the collections' filters select: an incident
    the filter selects but that was never written is out, one the collection holds but no
    longer selects (a downgrade, written directly here) is in, and another regulator's
    collection grants nothing."""
    reports = api.reports()
    with_report = {r.incident_id for r in reports}
    serious = [
        i for i in api.hour.incidents if i.grade in (Grade.I, Grade.II) and i.id in with_report
    ]
    lesser = [
        i for i in api.hour.incidents if i.grade not in (Grade.I, Grade.II) and i.id in with_report
    ]
    assert len(serious) >= 2
    assert lesser
    written, unwritten, downgraded = serious[0], serious[1], lesser[0]
    api.regulator("first")
    second = api.regulator("second")
    mine = api.collection("重大及以上", "first", min_grade=Grade.II)
    theirs = api.collection("全部", "second")
    api.feed([written])  # into both collections: each selects it
    # Held from when it was serious (its grade has dropped since): it stays in the collection.
    held = {
        "type": "incident",
        "spec_version": "2.1",
        "id": incident_stix_id(downgraded.id),
        "created": "2026-01-05T10:00:00.000Z",
        "modified": "2026-01-05T10:00:00.000Z",
        "name": "held",
    }
    api.store.objects.append(mine.id, [held], source=downgraded.id)

    def report_ids(incident_ids: set[str]) -> set[str]:
        return {r.id for r in reports if r.incident_id in incident_ids}

    listed = api.get("first", f"{API}/reports")["items"]
    assert {r["id"] for r in listed} == report_ids({written.id, downgraded.id})
    assert {r["incident_id"] for r in listed} == {written.id, downgraded.id}
    one = api.get("first", f"{API}/reports", incident=unwritten.id)["items"]
    assert one == []
    assert api.get("first", f"{API}/reports", incident=written.id)["items"] != []

    # A report outside the scope answers like one that does not exist.
    missing = "00000000-0000-5000-8000-000000000000"
    nobody = api.client.get(f"{API}/reports/{missing}", headers=api.auth("first"))
    assert nobody.status_code == 404
    for report in reports:
        page = api.client.get(f"{API}/reports/{report.id}", headers=api.auth("first"))
        if report.incident_id in (written.id, downgraded.id):
            assert page.status_code == 200, page.text
        else:
            assert page.status_code == 404, report.incident_id
            assert page.text.replace(report.id, "<id>") == nobody.text.replace(missing, "<id>")

    # The second regulator holds only what was written to its own collection.
    seen = api.get("second", f"{API}/reports")["items"]
    assert {r["incident_id"] for r in seen} == {written.id}
    hidden = next(r for r in reports if r.incident_id == downgraded.id)
    refused = api.client.get(f"{API}/reports/{hidden.id}", headers=api.auth("second"))
    assert refused.status_code == 404
    api.store.collections.revoke_grant(theirs.id, second.id)
    assert api.get("second", f"{API}/reports")["items"] == []
