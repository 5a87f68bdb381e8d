"""Training a baseline on benign history, and the versioned model file.

File layout (one file, readable with `head -2`):

    FENGHUO-BASELINE\\n
    {header JSON: format, format_version, sklearn_version, features, bucket_seconds, trained_at,
     history, summary (the robust statistics), forest_threshold, payload_sha256, payload_bytes}\\n
    <payload: the pickled IsolationForest, or nothing>

Loading checks the magic line, the format version, the feature list and the scikit-learn version
*before* unpickling anything, so an incompatible file fails with a message that says what to do
(retrain with `fenghuo train`) instead of an unpickling traceback. Model files are artifacts the
operator trains, like configuration: load only your own (pickle runs code); the checksum guards
against truncation and corruption, not tampering.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
import pickle
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fenghuo.detectors.baseline.features import (
    DEFAULT_BUCKET,
    FEATURES,
    bucketize,
)
from fenghuo.detectors.baseline.model import (
    FORMAT,
    FORMAT_VERSION,
    Baseline,
    BaselineError,
    FeatureStats,
    Summary,
    fit_stats,
    parse_summary,
)
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import ApiCall, Event

MAGIC = b"FENGHUO-BASELINE\n"
_PICKLE_PROTOCOL = 5


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sklearn_ensemble() -> Any:
    """scikit-learn, imported on first use (it takes over a second to import)."""
    if "sklearn.ensemble" not in sys.modules:
        _import_on_a_thread_of_its_own("sklearn.ensemble")
    import sklearn.ensemble

    return sklearn.ensemble


def sklearn_version() -> str:
    _sklearn_ensemble()
    import sklearn

    return str(sklearn.__version__)


def _import_on_a_thread_of_its_own(name: str) -> None:
    """Import `name` on a new Python thread and wait for it.

    Why: in the stream job (PyFlink thread mode) Python runs on the JVM's task threads, and
    with three or more Python tasks the first import of scipy's compiled (pybind11) modules,
    which scikit-learn pulls in, hangs on some of them for good (observed with PyFlink 2.0.2,
    pemja 0.5.7: the job stalls in `ExtensionFileLoader.create_module`; most likely pybind11,
    which takes the GIL through the PyGILState API at its first import, meets a thread state
    that API does not know). Imported on a thread started by `threading`, it does not hang, and
    every thread then shares the modules.
    """
    failures: list[BaseException] = []

    def run() -> None:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, on the caller's thread
            failures.append(exc)

    thread = threading.Thread(target=run, name=f"import-{name}", daemon=True)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@dataclass(frozen=True)
class TrainReport:
    path: Path
    format_version: int
    sklearn_version: str
    features: tuple[str, ...]
    bucket_seconds: int
    events: int  # API calls that fed the baseline
    skipped: int  # other events, and calls services made on a principal's behalf
    buckets: int
    tenants: dict[str, int] = field(default_factory=dict)  # buckets of tenants with own stats
    forest: bool = False
    forest_threshold: float | None = None
    first_event: dt.datetime | None = None
    last_event: dt.datetime | None = None
    trained_at: dt.datetime | None = None

    def lines(self) -> list[str]:
        """Human-readable report, for the command line."""
        span = (
            f"{self.first_event.isoformat()} .. {self.last_event.isoformat()}"
            if self.first_event and self.last_event
            else "-"
        )
        own = ", ".join(f"{t} ({n})" for t, n in sorted(self.tenants.items())) or "none"
        forest = (
            f"IsolationForest, outlier below {self.forest_threshold:.4f}"
            if self.forest and self.forest_threshold is not None
            else "no IsolationForest (too little history): robust statistics only"
        )
        return [
            f"baseline written to {self.path}",
            f"format version {self.format_version}, scikit-learn {self.sklearn_version}",
            f"{self.events} calls ({self.skipped} events skipped), {span}",
            f"{self.buckets} buckets of {self.bucket_seconds} s",
            f"tenants with their own baseline: {own}",
            forest,
        ]


def train_baseline(
    events: Iterable[Event],
    out: Path,
    *,
    inventory: InventoryIndex | None = None,
    bucket: dt.timedelta = DEFAULT_BUCKET,
    seed: int = 0,
    min_tenant_buckets: int = 20,
    min_forest_buckets: int = 50,
    outlier_quantile: float = 0.001,
    n_estimators: int = 100,
    clock: Callable[[], dt.datetime] = _utc_now,
) -> TrainReport:
    """Fit a baseline on benign history (attributed `ApiCall`s; other events are skipped) and
    write it to `out`. With `inventory`, the credentials' tenant comes from the caller's account
    (as in detection); without, from the account each call landed in."""
    calls: list[ApiCall] = []
    skipped = 0
    for event in events:
        if isinstance(event, ApiCall):
            calls.append(event)
        else:
            skipped += 1
    buckets = bucketize(calls, inventory, bucket)
    used = sum(b.calls for b in buckets.values())
    skipped += len(calls) - used
    if not buckets:
        msg = "no API calls to learn from: the history holds no attributable ApiCall events"
        raise BaselineError(msg)
    ordered = sorted(buckets.items(), key=lambda item: (item[0][0].key, item[0][1]))
    rows = np.array([b.vector() for _, b in ordered], dtype=np.float64)
    tenants_of_rows = [who.tenant for (who, _), _ in ordered]
    per_tenant: dict[str, FeatureStats] = {}
    for tenant, count in sorted(Counter(tenants_of_rows).items()):
        if count >= min_tenant_buckets:
            mask = np.array([t == tenant for t in tenants_of_rows])
            per_tenant[tenant] = fit_stats(rows[mask])
    summary = Summary.model_validate(
        {
            "format_version": FORMAT_VERSION,
            "bucket_seconds": int(bucket.total_seconds()),
            "global": fit_stats(rows),
            "tenants": per_tenant,
        }
    )
    baseline = Baseline(summary)
    forest, threshold = None, None
    if len(rows) >= min_forest_buckets:
        forest, threshold = _fit_forest(
            baseline, rows, tenants_of_rows, seed, n_estimators, outlier_quantile
        )
    starts = [b.first_seen for _, b in ordered if b.first_seen] + [
        b.last_seen for _, b in ordered if b.last_seen
    ]
    report = TrainReport(
        path=out,
        format_version=FORMAT_VERSION,
        sklearn_version=sklearn_version(),
        features=FEATURES,
        bucket_seconds=summary.bucket_seconds,
        events=used,
        skipped=skipped,
        buckets=len(rows),
        tenants={t: s.buckets for t, s in per_tenant.items()},
        forest=forest is not None,
        forest_threshold=threshold,
        first_event=min(starts) if starts else None,
        last_event=max(starts) if starts else None,
        trained_at=clock(),
    )
    save_baseline(out, summary, forest, threshold, report)
    return report


def _fit_forest(
    baseline: Baseline,
    rows: np.ndarray[Any, np.dtype[np.float64]],
    tenants: list[str],
    seed: int,
    n_estimators: int,
    outlier_quantile: float,
) -> tuple[Any, float]:
    z = np.array(
        [baseline.zscores(t, row)[1] for t, row in zip(tenants, rows, strict=True)],
        dtype=np.float64,
    )
    forest = _sklearn_ensemble().IsolationForest(
        n_estimators=n_estimators, max_samples=min(256, len(z)), random_state=seed
    )
    forest.fit(z)
    threshold = float(np.quantile(forest.score_samples(z), outlier_quantile))
    return forest, threshold


def save_baseline(
    out: Path,
    summary: Summary,
    forest: Any,
    threshold: float | None,
    report: TrainReport,
) -> None:
    payload = pickle.dumps(forest, protocol=_PICKLE_PROTOCOL) if forest is not None else b""
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_version": report.sklearn_version,
        "numpy_version": np.__version__,
        "features": list(FEATURES),
        "bucket_seconds": summary.bucket_seconds,
        "trained_at": report.trained_at.isoformat() if report.trained_at else None,
        "history": {
            "events": report.events,
            "buckets": report.buckets,
            "first_event": report.first_event.isoformat() if report.first_event else None,
            "last_event": report.last_event.isoformat() if report.last_event else None,
        },
        "summary": summary.model_dump(mode="json", by_alias=True),
        "forest_threshold": threshold,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
    }
    data = MAGIC + json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + payload
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, out)


def read_header(path: Path) -> tuple[dict[str, Any], bytes]:
    """The header of a model file and its payload, with the format checked."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read baseline model {path}: {exc.strerror or exc}"
        raise BaselineError(msg) from None
    if not data.startswith(MAGIC):
        msg = f"{path} is not a Fenghuo baseline model file (made by `fenghuo train`)"
        raise BaselineError(msg)
    line, newline, payload = data[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(line) if newline else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        msg = f"{path}: the model file's header is damaged; retrain with `fenghuo train`"
        raise BaselineError(msg)
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        msg = (
            f"{path}: baseline model format version {version}, but this Fenghuo reads version "
            f"{FORMAT_VERSION}; retrain it with `fenghuo train`"
        )
        raise BaselineError(msg)
    return header, payload


def load_baseline(path: Path, *, check_sklearn: bool = True) -> Baseline:
    """A model file written by `train_baseline`, checked before anything is unpickled."""
    header, payload = read_header(path)
    summary = parse_summary(header.get("summary") or {}, str(path))
    trained_with = header.get("sklearn_version")
    installed = sklearn_version()
    if check_sklearn and payload and trained_with != installed:
        msg = (
            f"{path}: trained with scikit-learn {trained_with}, but {installed} is installed; "
            "retrain it with `fenghuo train`"
        )
        raise BaselineError(msg)
    if len(payload) != header.get("payload_bytes") or (
        hashlib.sha256(payload).hexdigest() != header.get("payload_sha256")
    ):
        msg = f"{path}: the model payload is truncated or corrupt; retrain with `fenghuo train`"
        raise BaselineError(msg)
    forest = None
    threshold = header.get("forest_threshold")
    if payload:
        isolation_forest = _sklearn_ensemble().IsolationForest
        # Model files are operator-trained artifacts, trusted like configuration (see above).
        forest = pickle.loads(payload)  # noqa: S301
        if not isinstance(forest, isolation_forest) or not isinstance(threshold, float):
            msg = f"{path}: the payload is not an IsolationForest with a threshold"
            raise BaselineError(msg)
    return Baseline(
        summary,
        forest,
        threshold if forest is not None else None,
        source=str(path),
        header=header,
    )
