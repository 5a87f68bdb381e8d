"""`fenghuo up` and `fenghuo serve` as an operator runs them: subprocesses on free loopback
ports, driven over HTTP, stopped with SIGINT, leaving nothing behind."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import msgspec
import pytest
from playwright.sync_api import expect, sync_playwright
from taxii2client.v21 import Collection as TaxiiCollection
from taxii2client.v21 import as_pages

from fenghuo.demo.samples import demo_inventory_path, sample_files
from fenghuo.evaluate import ScoredAlert, matches
from fenghuo.evidence.sqlite_archive import SqliteEventArchive
from fenghuo.graph import correlate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.consume import read_messages
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.intel.stix import incident_stix_id
from fenghuo.inventory import InventoryStore
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Grade, Incident
from fenghuo.platform import LIVE_ROUND
from fenghuo.simulate.config import SimulationConfig
from fenghuo.simulate.generate import Generator, create_world
from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import Scope
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.replay_files import InputSpec, run_replay
from tests.streaming.scenario import comparable
from tests.streaming.support import poll
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.kafka
ALL = Scope.everything()

FLOW = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "2 111111111111 eni-0acme0001 10.1.0.11 10.1.0.12 49152 5432 6 20 4249 "
    "1767607200 1767607260 ACCEPT OK\n"
)


@contextmanager
def running(
    args: list[str], env: dict[str, str], ready: str
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    exe = Path(sys.executable).with_name("fenghuo")
    proc = subprocess.Popen(
        [str(exe), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 90
        for line in proc.stdout:  # blocks per line; the process prints as it starts
            lines.append(line.rstrip("\n"))
            if ready in line or time.monotonic() > deadline:
                break
        assert any(ready in line for line in lines), "\n".join(lines)
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise


def child_environ() -> dict[str, str]:
    """This process's environment for a `fenghuo up` child, without FLINK_LOG_DIR: a job run
    earlier in pytest's own process set it (`flink_env.prepare_process`), and the child would
    then log there instead of under its own data dir."""
    return {k: v for k, v in os.environ.items() if k != "FLINK_LOG_DIR"}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**child_environ(), "FENGHUO_DATA_DIR": str(tmp_path / "var"), **extra}


def test_up_starts_everything_ingests_samples_and_stops_cleanly(
    tmp_path: Path, samples: Path
) -> None:
    broker_port, api_port = free_port(), free_port()
    env = _env(
        tmp_path,
        FENGHUO_EMBEDDED_BROKER_PORT=str(broker_port),
        FENGHUO_API_PORT=str(api_port),
        FENGHUO_STREAM_REST_PORT=str(free_port()),
    )
    specs = [InputSpec(s.format, path, s.host_id) for s, path in sample_files(samples)]
    expected = run_replay(demo_inventory_path(), specs, tmp_path / "replay.jsonl").result.alerts
    assert expected  # the samples hold attacks
    with running(["up", "--samples", str(samples)], env, "running; Ctrl-C") as (proc, lines):
        # The detection job ran over the samples (a backfill, then event time moved to now):
        # the store holds exactly replay's alerts.
        store = AlertStore(tmp_path / "var" / "fenghuo.db")
        poll("the samples' alerts in the store", store.all, same_as(expected), timeout=120)
        # The correlator ran over them: the store's incidents are correlate()'s over its alerts.
        db = SqliteStore(tmp_path / "var" / "fenghuo.db")
        incidents = db.incidents
        index = InventoryStore(demo_inventory_path()).current()
        want = without_updated_at(correlate(store.all(), index))
        assert want  # the samples' attacks make incidents
        poll(
            "the samples' incidents in the store",
            lambda: without_updated_at(v.incident for v in incidents.list(ALL, limit=500).items),
            want.__eq__,
            timeout=30,
        )
        db.close()
        # The archive service kept every event the alerts name: the API shows each alert's
        # evidence, raw records included, to the analyst key `up` printed.
        named = {ident for alert in store.all() for ident in alert.evidence}
        archive = SqliteEventArchive(tmp_path / "var" / "events.db")
        poll(
            "the evidence in the archive", lambda: set(archive.get(sorted(named))), named.__eq__, 60
        )
        analyst = next(line.split()[2] for line in lines if line.startswith("analyst key"))
        alert = max(store.all(), key=lambda a: len(a.evidence))
        evidence = httpx.get(
            f"http://127.0.0.1:{api_port}/api/v1/alerts/{alert.id}/evidence",
            headers={"Authorization": f"Bearer {analyst}"},
        ).json()
        assert sorted(e["id"] for e in evidence["events"]) == sorted(set(alert.evidence))
        assert all(e["raw"]["original"] for e in evidence["events"])
        store.close()
        output = "\n".join(lines)
        assert f"127.0.0.1:{broker_port}" in output
        assert any(line.startswith("correlate  ") for line in lines), output
        assert any(line.startswith("archive    ") for line in lines), output
        ingested = [line for line in lines if line.startswith("ingested")]
        assert len(ingested) == 17  # every shared sample file
        token = next(line.split()[2] for line in lines if line.startswith("ingest key"))
        url = f"http://127.0.0.1:{api_port}"
        response = httpx.post(
            f"{url}/api/v1/ingest/vpcflow",
            content=FLOW,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 202
        assert response.json()["accepted"] == 1
        assert httpx.get(f"{url}/readyz", timeout=10).json()["broker"] is True
        # The printed analyst key reads the same incidents through the API.
        analyst = next(line.split()[2] for line in lines if line.startswith("analyst key"))
        served = httpx.get(
            f"{url}/api/v1/incidents",
            params={"limit": 500},
            headers={"Authorization": f"Bearer {analyst}"},
            timeout=30,
        )
        assert served.status_code == 200
        assert sorted(v["incident"]["id"] for v in served.json()["items"]) == [i.id for i in want]
        # The printed regulator key reads the demo collection (graded III and above) with the
        # OASIS client, and the reportable incidents have their initial report drafts.
        regulator = next(line.split()[2] for line in lines if line.startswith("regulator key"))
        taxii = next(line for line in lines if line.startswith("taxii "))
        collection_id = taxii.split("(collection ")[1].split(":")[0]
        remote = TaxiiCollection(
            f"{url}/taxii2/fenghuo/collections/{collection_id}/",
            user="regulator",
            password=regulator,
        )
        serious = {incident_stix_id(i.id) for i in want if i.grade in SERIOUS}
        assert serious  # the samples hold incidents graded III and above
        poll(
            "the serious incidents on TAXII",
            lambda: {
                o["id"]
                for page in as_pages(remote.get_objects, per_request=100)
                for o in page.get("objects", [])
                if o["type"] == "incident"
            },
            serious.__eq__,
            timeout=30,
        )
        reportable = {i.id for i in want if i.reporting.required}
        poll(
            "the reportable incidents' initial reports",
            lambda: {
                r["incident_id"]
                for r in httpx.get(
                    f"{url}/api/v1/reports",
                    headers={"Authorization": f"Bearer {analyst}"},
                    timeout=30,
                ).json()["items"]
                if r["kind"] == "initial"
            },
            reportable.__eq__,
            timeout=30,
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    # Nothing left listening on either port, and the stream job's JVM is gone with its process.
    for port in (broker_port, api_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert "cancelling job" in (tmp_path / "var" / "stream.log").read_text()
    assert not jvms_under(tmp_path)


SERIOUS = (Grade.I, Grade.II, Grade.III)


def without_updated_at(incidents: Iterable[Incident]) -> list[Incident]:
    """Ordered by id, without the correlator service's processing-time stamp."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return sorted(
        (msgspec.structs.replace(i, updated_at=epoch) for i in incidents), key=lambda i: i.id
    )


def same_as(expected: list[Alert]) -> Callable[[list[Alert]], bool]:
    target = comparable(expected)
    return lambda got: comparable(got) == target


def jvms_under(tmp_path: Path) -> list[str]:
    """Command lines of live processes that mention this test's folder (the job's JVM does,
    through its log directory)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # the process ended while we looked
        if str(tmp_path) in text and "java" in text:
            found.append(text)
    return found


def test_up_simulate_streams_a_live_cloud_and_its_attacks_raise_alerts(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        FENGHUO_EMBEDDED_BROKER_PORT=str(free_port()),
        FENGHUO_API_PORT=str(free_port()),
        FENGHUO_STREAM_REST_PORT=str(free_port()),
    )
    args = ["up", "--simulate", "--rate", "300"]
    with running(args, env, "running; Ctrl-C") as (proc, lines):
        line = next(line for line in lines if line.startswith("simulate"))
        start = dt.datetime.fromisoformat(line.split("from ")[1][:20])
        # The same world as `up` built (seed 7 is live_world's default): its labelled attacks.
        config = SimulationConfig(seed=7, start=start, duration=LIVE_ROUND, rate=300)
        world = create_world(config)
        labels = Generator(world).segment(0).labels
        first = min(labels, key=lambda label: label.start)
        store = AlertStore(tmp_path / "var" / "fenghuo.db")
        # The first attack starts about a minute in; its alert follows within seconds.
        alerts = poll(
            f"an alert for the first attack ({first.kind} at {first.start:%H:%M:%S})",
            store.all,
            lambda got: any(matches(scored(a), first) for a in got),
            timeout=(first.start - world.config.start).total_seconds() + 90,
        )
        store.close()
        # Every alert of medium or above belongs to some labelled attack.
        serious = [s for s in map(scored, alerts) if s.counted]
        assert serious
        assert [a for a in serious if not any(matches(a, label) for label in labels)] == []
        console_shows_the_live_cloud(lines, alerts)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    output = "\n".join(lines)
    assert "simulated-inventory.yaml" in output
    assert not jvms_under(tmp_path)


def console_shows_the_live_cloud(lines: list[str], alerts: list[Alert]) -> None:
    """The console at the printed address, logged in with the printed analyst key: the live
    stream is open, events are flowing (the simulation's rate), and the queue lists the alerts
    the store holds."""
    url = next(line.split()[1] for line in lines if line.startswith("console"))
    analyst = next(line.split()[2] for line in lines if line.startswith("analyst key"))
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is missing at {CHROMIUM} (./dev test installs it)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en-US")
            page.goto(f"{url.rstrip('/')}/#/login")
            key = page.get_by_label(re.compile(r"API (key|密钥)"))
            key.fill(analyst)
            key.press("Enter")
            page.goto(f"{url.rstrip('/')}/#/overview")
            eps = page.locator("[data-kpi=eps] .kpi-value")
            expect(eps).not_to_have_text("—", timeout=30_000)
            assert float(eps.inner_text().replace(",", "")) > 0
            page.goto(f"{url.rstrip('/')}/#/alerts")
            title = alerts[0].title
            expect(page.get_by_text(title).first).to_be_visible(timeout=30_000)
        finally:
            browser.close()


def scored(alert: Alert) -> ScoredAlert:
    return msgspec.convert(msgspec.to_builtins(alert), ScoredAlert)


def test_serve_against_a_running_broker(
    broker: KafkaBroker, topics: Topics, tmp_path: Path
) -> None:
    api_port = free_port()
    env = _env(tmp_path, FENGHUO_TOPIC_PREFIX=topics.prefix)
    exe = Path(sys.executable).with_name("fenghuo")
    created = subprocess.run(
        [str(exe), "keys", "create", "--role", "ingest", "--name", "serve-test"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    args = ["serve", "--port", str(api_port), "--bootstrap", broker.bootstrap]
    args += ["--inventory", str(demo_inventory_path())]
    with running(args, env, "API on") as (proc, _lines):
        response = httpx.post(
            f"http://127.0.0.1:{api_port}/api/v1/ingest/vpcflow",
            content=FLOW,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 202
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    (message,) = read_messages(broker.bootstrap, topics.network, 1, timeout=20)
    assert message.key == b"acme"
