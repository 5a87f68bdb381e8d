"""The anomalous-access-volume baseline: train on benign history, save, load, detect; the model
file's version checks; determinism. Model files are made here, in temporary directories."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from fenghuo.detectors.base import Finding
from fenghuo.detectors.baseline import (
    FEATURES,
    FORMAT_VERSION,
    Baseline,
    BaselineError,
    load_baseline,
    train_baseline,
)
from fenghuo.detectors.baseline.command import train_from_files
from fenghuo.detectors.baseline.features import bucketize
from fenghuo.detectors.baseline.store import MAGIC, read_header, sklearn_version
from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.rules.anomalous_access_volume import AnomalousAccessVolume
from fenghuo.detectors.testing import demo_inventory
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import ApiCall, Event
from fenghuo.model.alert import Alert, Severity
from fenghuo.streaming.replay import replay
from tests.detectors.cloudtrail_history import (
    START,
    benign_records,
    bulk_read,
    ndjson,
    to_events,
)

DETECTOR = "anomalous-access-volume"
TRAINED_AT = dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
NEXT_DAY = START + dt.timedelta(days=1)


def _index() -> InventoryIndex:
    return demo_inventory().current()


def _train(events: list[Event], out: Path, seed: int = 0) -> Any:
    return train_baseline(events, out, inventory=_index(), seed=seed, clock=lambda: TRAINED_AT)


@pytest.fixture(scope="module")
def history() -> list[Event]:
    return to_events(benign_records(hours=24, seed=1))


@pytest.fixture(scope="module")
def model(history: list[Event], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "baseline.model"
    _train(history, out)
    return out


def _detect(events: list[Event], settings: dict[str, Any]) -> list[Alert]:
    config = DetectionConfig().with_settings(DETECTOR, settings)
    engine = DetectionEngine([AnomalousAccessVolume()], _index, config, clock=lambda: TRAINED_AT)
    result = replay(events, engine)
    assert result.failures == {}
    return result.alerts


# --- training and the model file -------------------------------------------------------------


def test_train_reports_what_it_learned(history: list[Event], tmp_path: Path) -> None:
    report = _train(history, tmp_path / "m.model")
    assert report.path == tmp_path / "m.model"
    assert report.format_version == FORMAT_VERSION
    assert report.sklearn_version == sklearn_version()
    assert report.features == FEATURES
    assert report.events == len(history)
    assert report.skipped == 0
    assert report.buckets == 24 * 12 * 5  # five principals, every 5-minute slot of a day
    assert report.tenants == {"acme": 576, "globex": 288, "initech": 288, "umbrella": 288}
    assert report.forest
    assert report.forest_threshold is not None
    assert report.first_event is not None
    assert report.first_event >= START
    assert report.trained_at == TRAINED_AT
    assert any("IsolationForest" in line for line in report.lines())


def test_model_file_records_format_versions_and_features(model: Path) -> None:
    assert model.read_bytes().startswith(MAGIC)
    header, payload = read_header(model)
    assert header["format_version"] == FORMAT_VERSION
    assert header["sklearn_version"] == sklearn_version()
    assert header["features"] == list(FEATURES)
    assert header["bucket_seconds"] == 300
    assert header["payload_bytes"] == len(payload) > 0
    umbrella = header["summary"]["tenants"]["umbrella"]
    assert umbrella["median"]["cross_tenant_calls"] == 0.0  # reads globex in ~1 slot in 10


def test_load_gives_the_trained_baseline(model: Path) -> None:
    baseline = load_baseline(model)
    assert baseline.forest is not None
    assert baseline.forest_threshold is not None
    assert baseline.bucket == dt.timedelta(minutes=5)
    assert baseline.describe()["sklearn_version"] == sklearn_version()
    assert set(baseline.summary.tenants) == {"acme", "globex", "initech", "umbrella"}


def test_training_is_deterministic(history: list[Event], tmp_path: Path) -> None:
    _train(history, tmp_path / "a.model", seed=7)
    _train(list(reversed(history)), tmp_path / "b.model", seed=7)
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()


def test_bucket_features_do_not_depend_on_event_order(history: list[Event]) -> None:
    calls = [e for e in history if isinstance(e, ApiCall)][:2000]
    shuffled = list(calls)
    random.Random(3).shuffle(shuffled)
    first = {k: b.vector() for k, b in bucketize(calls, _index()).items()}
    second = {k: b.vector() for k, b in bucketize(shuffled, _index()).items()}
    assert first == second


def test_no_history_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="no API calls"):
        train_baseline([], tmp_path / "m.model")
    assert not (tmp_path / "m.model").exists()


def test_a_short_history_gives_statistics_without_a_forest(tmp_path: Path) -> None:
    cut = START + dt.timedelta(minutes=25)
    events = [e for e in to_events(benign_records(hours=1, seed=2)) if e.event_time < cut]
    report = _train(events, tmp_path / "m.model")
    assert report.buckets == 25  # fewer than 50: no forest
    assert not report.forest
    assert report.tenants == {}  # 5 buckets each: every tenant falls back to global statistics
    baseline = load_baseline(tmp_path / "m.model")
    assert baseline.forest is None
    assert baseline.summary.global_.buckets == report.buckets


# --- refusing a model file it cannot read ------------------------------------------------------


def _rewrite_header(model: Path, out: Path, **changes: Any) -> Path:
    header, payload = read_header(model)
    header.update(changes)
    out.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    return out


def test_another_format_version_is_a_clear_error(model: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.model"
    data = model.read_bytes().replace(
        f'"format_version": {FORMAT_VERSION}'.encode(), b'"format_version": 99'
    )
    old.write_bytes(data)
    with pytest.raises(BaselineError, match=r"format version 99.*retrain it with `fenghuo train`"):
        load_baseline(old)


def test_another_sklearn_version_is_refused_before_unpickling(model: Path, tmp_path: Path) -> None:
    other = _rewrite_header(model, tmp_path / "other.model", sklearn_version="0.24.2")
    with pytest.raises(BaselineError, match=r"scikit-learn 0\.24\.2.*retrain"):
        load_baseline(other)
    assert load_baseline(other, check_sklearn=False).forest is not None


def test_other_feature_lists_are_refused(model: Path, tmp_path: Path) -> None:
    header, _ = read_header(model)
    summary = dict(header["summary"], features=["calls"])
    changed = _rewrite_header(model, tmp_path / "f.model", summary=summary)
    with pytest.raises(BaselineError, match="features"):
        load_baseline(changed)


def test_a_damaged_payload_is_refused(model: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.model"
    damaged.write_bytes(model.read_bytes()[:-100])
    with pytest.raises(BaselineError, match="truncated or corrupt"):
        load_baseline(damaged)


def test_a_payload_that_is_not_a_forest_is_refused(model: Path, tmp_path: Path) -> None:
    header, _ = read_header(model)
    payload = pickle.dumps({"not": "a forest"})
    import hashlib

    header.update(payload_bytes=len(payload), payload_sha256=hashlib.sha256(payload).hexdigest())
    bad = tmp_path / "bad.model"
    bad.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    with pytest.raises(BaselineError, match="not an IsolationForest"):
        load_baseline(bad)


def test_other_files_are_not_models(tmp_path: Path) -> None:
    other = tmp_path / "x.model"
    other.write_bytes(b"\x80\x05garbage")
    with pytest.raises(BaselineError, match="not a Fenghuo baseline model file"):
        load_baseline(other)
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(tmp_path / "missing.model")


def test_inline_summaries_are_validated() -> None:
    with pytest.raises(BaselineError, match="unknown features"):
        Baseline.from_summary({"format_version": 1, "global": {"median": {"bytes": 1}}})
    with pytest.raises(BaselineError, match="format version 2"):
        Baseline.from_summary({"format_version": 2, "global": {}})
    baseline = Baseline.from_summary({"format_version": 1, "global": {}})
    assert baseline.forest is None


# --- detection with a trained model -----------------------------------------------------------


def test_bulk_read_of_another_tenant_is_detected(model: Path) -> None:
    day = benign_records(hours=6, seed=3, start=NEXT_DAY)
    attack_at = NEXT_DAY + dt.timedelta(hours=3, minutes=1)
    alerts = _detect(to_events(day + bulk_read(30, attack_at)), {"model_path": str(model)})
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.severity == Severity.HIGH
    assert (alert.tenant_id, alert.actor_tenant_id) == ("initech", "umbrella")
    assert alert.technique == "T1530"
    assert alert.evidence_count == 30
    assert alert.first_seen == attack_at
    details = alert.details
    assert details["drivers"][:2] == ["cross_tenant_calls", "cross_tenant_data_access"]
    assert details["zscores"]["cross_tenant_calls"] >= 10
    assert details["baseline"]["scope"] == "tenant:umbrella"
    assert details["forest_outlier"] is True
    assert details["model"]["source"] == str(model)
    assert "user/etl (tenant umbrella)" in alert.summary


def test_a_modest_unusual_read_is_medium(model: Path) -> None:
    attack_at = NEXT_DAY + dt.timedelta(minutes=1)
    alerts = _detect(to_events(bulk_read(8, attack_at)), {"model_path": str(model)})
    assert [(a.severity, a.tenant_id, a.actor_tenant_id) for a in alerts] == [
        (Severity.MEDIUM, "initech", "umbrella")
    ]


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_benign_days_raise_nothing(model: Path, seed: int) -> None:
    day = to_events(benign_records(hours=24, seed=seed, start=NEXT_DAY))
    assert _detect(day, {"model_path": str(model)}) == []


def test_without_a_model_the_detector_is_inactive(caplog: pytest.LogCaptureFixture) -> None:
    events = to_events(bulk_read(30, NEXT_DAY))
    with caplog.at_level(logging.INFO, logger="fenghuo.detectors.rules.anomalous_access_volume"):
        assert _detect(events, {}) == []
    inactive = [r for r in caplog.records if "inactive" in r.getMessage()]
    assert len(inactive) == 1
    assert inactive[0].levelno == logging.INFO


def test_an_unusable_model_is_logged_not_raised(
    model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = tmp_path / "old.model"
    old.write_bytes(model.read_bytes().replace(b'"format_version": 1', b'"format_version": 0'))
    events = to_events(bulk_read(30, NEXT_DAY))
    with caplog.at_level(logging.INFO):
        assert _detect(events, {"model_path": str(old)}) == []
        assert _detect(events, {"model_path": str(tmp_path / "missing")}) == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("format version 0" in m for m in errors)
    assert any("missing" in m for m in errors)


def test_a_replaced_model_file_is_reloaded(
    history: list[Event], model: Path, tmp_path: Path
) -> None:
    path = tmp_path / "live.model"
    path.write_bytes(model.read_bytes())
    detector = AnomalousAccessVolume()
    config = DetectionConfig().with_settings(DETECTOR, {"model_path": str(path)})
    ctx = _Ctx(config.settings[DETECTOR])
    first = detector.baseline(ctx)
    assert first is not None
    assert detector.baseline(ctx) is first  # cached
    _train(history[: len(history) // 2], path, seed=1)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = detector.baseline(ctx)
    assert second is not None
    assert second is not first


def test_the_detector_pickles_without_its_model(model: Path) -> None:
    detector = AnomalousAccessVolume()
    assert detector.baseline(_Ctx({"model_path": str(model)})) is not None
    clone = pickle.loads(pickle.dumps(detector))
    assert isinstance(clone, AnomalousAccessVolume)
    assert len(pickle.dumps(clone)) < 1000


# --- judging, order-insensitive -----------------------------------------------------------------


class _Ctx:
    """A minimal detector context: settings, the demo inventory, no watermark."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self.timers: list[dt.datetime] = []

    @property
    def inventory(self) -> InventoryIndex:
        return _index()

    @property
    def watermark(self) -> dt.datetime | None:
        return None

    def set_timer(self, at: dt.datetime) -> None:
        self.timers.append(at)

    def setting(self, name: str, default: Any = None) -> Any:
        return self._settings.get(name, default)


def _run_direct(events: list[Event], settings: dict[str, Any]) -> list[Finding]:
    detector = AnomalousAccessVolume()
    ctx = _Ctx(settings)
    states: dict[str, Any] = {}
    for event in events:
        key = detector.key(event)
        if key is None:
            continue
        state = states.setdefault(key, detector.new_state())
        list(detector.on_event(event, state, ctx))
    findings: list[Finding] = []
    for at in sorted(set(ctx.timers)):
        for state in states.values():
            findings.extend(detector.on_timer(at, state, ctx))
    return findings


def test_findings_do_not_depend_on_arrival_order(model: Path) -> None:
    day = benign_records(hours=1, seed=6, start=NEXT_DAY)
    events = to_events(day + bulk_read(20, NEXT_DAY + dt.timedelta(minutes=16)))
    settings = {"model_path": str(model)}
    expected = _run_direct(events, settings)
    assert len(expected) == 1
    for seed in range(3):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert _run_direct(shuffled, settings) == expected


def test_the_forest_alone_alerts_only_on_some_cross_tenant_deviation(model: Path) -> None:
    """cross_z <= cross-tenant z < z_threshold: an alert only when the forest calls it an
    outlier (forced here by a threshold above every score)."""
    baseline = load_baseline(model)
    detector = AnomalousAccessVolume()
    events = [e for e in to_events(bulk_read(3, NEXT_DAY)) if isinstance(e, ApiCall)]
    buckets = list(bucketize(events, _index()).values())
    assert len(buckets) == 1
    ctx = _Ctx({})
    assert detector._judge(baseline, buckets[0], ctx) is None
    baseline.forest_threshold = 1.0  # every bucket is an outlier now
    finding = detector._judge(baseline, buckets[0], ctx)
    assert finding is not None
    assert finding.severity == Severity.MEDIUM
    assert finding.confidence == 0.5
    assert finding.details["drivers"] == []
    assert "unusual combination" in finding.summary


# --- the `fenghuo train` function ------------------------------------------------------------


def test_train_from_files_parses_attributes_and_trains(tmp_path: Path) -> None:
    from fenghuo.demo.samples import demo_inventory_path

    history = tmp_path / "history.jsonl"
    history.write_text(ndjson(benign_records(hours=6, seed=8)) + "not json\n", encoding="utf-8")
    report, counts = train_from_files(
        [("cloudtrail", history)], tmp_path / "m.model", inventory_path=demo_inventory_path()
    )
    assert counts.errors == 1
    assert counts.records == report.events > 0
    assert load_baseline(tmp_path / "m.model").summary.bucket_seconds == 300


def test_train_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fenghuo.demo.samples import demo_inventory_path
    from fenghuo.detectors.baseline.command import train_command

    history = tmp_path / "history.jsonl"
    history.write_text(ndjson(benign_records(hours=6, seed=9)), encoding="utf-8")
    out = tmp_path / "models" / "baseline.model"
    args = ["--inventory", str(demo_inventory_path()), "--input", f"cloudtrail:{history}"]
    result = CliRunner().invoke(train_command, [*args, "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert f"baseline written to {out}" in result.output
    assert load_baseline(out).forest is not None
    bad = CliRunner().invoke(train_command, [*args[:2], "--input", "syslog:x", "--out", str(out)])
    assert bad.exit_code != 0
    assert "FORMAT:PATH" in bad.output
