"""anomalous-access-volume: a principal suddenly reaching into other tenants' data at volume.

Once an attacker can read another tenant's resources (a snapshot or bucket shared to an account
they control, stolen credentials, a too-broad resource policy) they pull the data out in bulk:
GetObject over a bucket, CopySnapshot / CreateVolume of shared snapshots, RDS restores (ATT&CK
T1530, Data from Cloud Storage). No single call is wrong; the volume and the mix are. Each
principal's calls are counted per time bucket (5 minutes by default) and compared, when the
bucket closes, with its tenant's baseline learned by `fenghuo train` from benign history:
per-feature robust z-scores, and an IsolationForest over them. A bucket alerts only when it
involves other tenants' resources more than usual (and the deviation is large, or the forest
calls the bucket an outlier); the features that drove it are in the alert's details.
Other features deviating alone (a busy hour) are not alerts: they are context.

Settings: `model_path` (a model file from `fenghuo train`) or `baseline` (the robust
statistics inline, as a model file's header carries them); neither: the detector is inactive
(logged once, not an error). `z_threshold` (4): the cross-tenant z-score that alerts, and what
counts as a driver; `cross_z` (3): the cross-tenant z-score that alerts in a bucket the
IsolationForest calls an outlier; `extreme_z` (10): HIGH from here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.baseline import Baseline, BaselineError, Score, load_baseline
from fenghuo.detectors.baseline.features import (
    CROSS_TENANT_FEATURES,
    UNKNOWN_TENANT,
    Bucket,
    bucket_start,
    principal_of,
)
from fenghuo.detectors.cloud import is_service_call, principal_key
from fenghuo.detectors.taxonomy import DATA_SECURITY
from fenghuo.model import ApiCall, Event
from fenghuo.model.alert import Entity, Severity

log = logging.getLogger(__name__)


# A tenant baseline as `fenghuo train` writes it into a model file's header (robust statistics
# only), given inline so the cases need no model file. Unlisted features: median 0, scale 1.
_BASELINE: dict[str, Any] = {
    "format_version": 1,
    "bucket_seconds": 300,
    "global": {
        "buckets": 2016,
        "median": {"calls": 6, "distinct_actions": 3, "distinct_resources": 2,
                   "read_only_share": 0.8, "data_access_calls": 1},
        "scale": {"calls": 4, "distinct_actions": 2, "distinct_resources": 2,
                  "read_only_share": 0.15, "data_access_calls": 2},
    },
}  # fmt: skip


def _s3_reads(count: int, bucket: str, owner: str) -> str:
    """`count` CloudTrail S3 GetObject data events (NDJSON, as delivered to the bucket owner)
    by umbrella's `etl` user from its VM umbrella-api-1, 10 s apart from 2026-01-05T10:00:00Z."""
    lines = []
    for i in range(count):
        key = f"2025/12/export-{i:03d}.csv"
        record = {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser", "principalId": "AIDAUMBRELLAETL00001",
                "arn": "arn:aws:iam::756680937392:user/etl", "accountId": "756680937392",
                "accessKeyId": "AKIAUMBRELLAETL00001", "userName": "etl",
            },
            "eventTime": f"2026-01-05T10:{i * 10 // 60:02d}:{i * 10 % 60:02d}Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "awsRegion": "cn-north-1",
            "sourceIPAddress": "10.4.0.31",
            "userAgent": "[aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12]",
            "requestParameters": {
                "bucketName": bucket, "key": key,
                "Host": f"{bucket}.s3.cn-north-1.amazonaws.com.cn",
            },
            "responseElements": None,
            "additionalEventData": {
                "SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": 0, "bytesTransferredOut": 48213 + i,
                "AuthenticationMethod": "AuthHeader",
            },
            "requestID": f"7F2C{i:012X}",
            "eventID": f"5b1e7c2a-9d3f-4e6a-8b1c-{owner[:8]}{i:04d}",
            "readOnly": True,
            "resources": [
                {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ],
            "eventType": "AwsApiCall",
            "managementEvent": False,
            "recipientAccountId": owner,
            "eventCategory": "Data",
        }  # fmt: skip
        lines.append(json.dumps(record))
    return "\n".join(lines)


@dataclass
class PrincipalState:
    """The open buckets of one principal, by start time."""

    buckets: dict[dt.datetime, Bucket] = field(default_factory=dict)


def _victim(bucket: Bucket) -> str:
    """The other tenant most involved (ties: by name)."""
    return min(bucket.other_tenants.items(), key=lambda item: (-item[1], item[0]))[0]


class AnomalousAccessVolume(Detector):
    meta = DetectorMeta(
        id="anomalous-access-volume",
        title="Anomalous volume of access to other tenants' resources",
        severity=Severity.MEDIUM,
        confidence=0.6,
        technique="T1530",
        category=DATA_SECURITY,
        description=(
            "A principal's API and data-access behaviour in one time bucket deviates from its "
            "tenant's learned baseline (robust z-scores per feature, IsolationForest over them) "
            "and the deviation involves other tenants' resources."
        ),
        runbook=(
            "1. Read the drivers in the details: which features, how far from the baseline. "
            "2. List the principal's calls in the bucket (evidence) and the other tenant's "
            "resources they touched; check whether a share or trust was granted just before "
            "(cross-tenant-sharing alerts). "
            "3. If unexplained, disable the principal's credentials and revoke the share; "
            "notify the other tenant (data exposure) and open an incident for both. "
            "4. If benign (a new sanctioned data flow), retrain the baseline with "
            "`fenghuo train` on history that includes it."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (ApiCall,)

    def __init__(self) -> None:
        self._cache: tuple[object, Baseline | None] | None = None
        self._told: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a loaded model is a cache: reload it after unpickling

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    # --- the model --------------------------------------------------------------------------

    def _once(self, level: int, message: str) -> None:
        if message not in self._told:
            self._told.add(message)
            log.log(level, "%s: %s", self.meta.id, message)

    def baseline(self, ctx: Context) -> Baseline | None:
        """The configured baseline, cached (a model file is reloaded when it changes)."""
        inline = ctx.setting("baseline")
        path = ctx.setting("model_path")
        if inline is not None:
            token: object = inline
        elif path:
            try:
                stat = os.stat(path)
            except OSError as exc:
                self._once(logging.ERROR, f"model_path {path}: {exc.strerror or exc}; inactive")
                return None
            token = (str(path), stat.st_mtime_ns, stat.st_size)
        else:
            self._once(logging.INFO, "no model_path (nor inline baseline) set; inactive")
            return None
        if self._cache is not None and (self._cache[0] is token or self._cache[0] == token):
            return self._cache[1]
        loaded: Baseline | None
        try:
            if isinstance(token, tuple):
                loaded = load_baseline(Path(path))
            elif isinstance(inline, dict):
                loaded = Baseline.from_summary(inline)
            else:
                msg = "the baseline setting must be a mapping (a baseline summary)"
                raise BaselineError(msg)
        except BaselineError as exc:
            self._once(logging.ERROR, f"{exc}; inactive")
            loaded = None
        else:
            log.info("%s: baseline loaded from %s", self.meta.id, loaded.source)
        self._cache = (token, loaded)
        return loaded

    # --- the detector -----------------------------------------------------------------------

    def key(self, event: Event) -> str | None:
        if not isinstance(event, ApiCall) or is_service_call(event):
            return None
        return principal_key(event.actor)

    def new_state(self) -> PrincipalState:
        return PrincipalState()

    def is_idle(self, state: Any) -> bool:
        return not state.buckets

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, ApiCall)
        assert isinstance(state, PrincipalState)
        baseline = self.baseline(ctx)
        who = principal_of(event, ctx.inventory)
        if baseline is None or who is None:
            return ()
        start = bucket_start(event.event_time, baseline.bucket)
        end = start + baseline.bucket
        if ctx.watermark is not None and end <= ctx.watermark:
            return ()  # its bucket was judged already: too late to count
        bucket = state.buckets.get(start)
        if bucket is None:
            bucket = state.buckets[start] = Bucket(start, end, who.tenant, who.principal)
        bucket.add(event)
        ctx.set_timer(end)
        return ()

    def on_timer(self, at: dt.datetime, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(state, PrincipalState)
        baseline = self.baseline(ctx)
        for start in sorted(state.buckets):
            bucket = state.buckets[start]
            if bucket.end > at:
                continue
            del state.buckets[start]
            if baseline is not None and bucket.cross_tenant:
                finding = self._judge(baseline, bucket, ctx)
                if finding is not None:
                    yield finding

    def _judge(self, baseline: Baseline, bucket: Bucket, ctx: Context) -> Finding | None:
        """Alert when the cross-tenant features themselves deviate: strongly (z_threshold), or
        somewhat (cross_z) in a bucket the IsolationForest calls an outlier."""
        z_threshold = float(ctx.setting("z_threshold", 4.0))
        extreme_z = float(ctx.setting("extreme_z", 10.0))
        cross_z = float(ctx.setting("cross_z", 3.0))
        score = baseline.score(bucket.tenant, bucket.features())
        cross = max(score.zscores[f] for f in CROSS_TENANT_FEATURES)
        if cross < z_threshold and not (cross >= cross_z and score.forest_outlier):
            return None
        drivers = score.drivers(z_threshold)
        top = max((abs(score.zscores[f]) for f in drivers), default=0.0)
        extreme = top >= extreme_z
        confidence = 0.6 if drivers else 0.5
        confidence += (0.15 if drivers and score.forest_outlier else 0.0) + (
            0.1 if extreme else 0.0
        )
        return self._finding(baseline, bucket, score, drivers, extreme, round(confidence, 2))

    def _finding(
        self,
        baseline: Baseline,
        bucket: Bucket,
        score: Score,
        drivers: list[str],
        extreme: bool,
        confidence: float,
    ) -> Finding:
        actor_tenant = None if bucket.tenant == UNKNOWN_TENANT else bucket.tenant
        victim = _victim(bucket)
        principal = bucket.principal
        minutes = int(baseline.bucket.total_seconds() // 60)
        why = ", ".join(
            f"{f} {score.values[f]:g} (z={score.zscores[f]:+.1f}, usual {score.median[f]:g})"
            for f in drivers[:4]
        ) or (
            f"an unusual combination (IsolationForest score {score.forest_score or 0:.3f}, "
            f"cross_tenant_calls z={score.zscores['cross_tenant_calls']:+.1f})"
        )
        owner = f"tenant {actor_tenant}" if actor_tenant else "no known tenant"
        entities = [Entity("tenant", t) for t in sorted(bucket.other_tenants)]
        entities += [Entity("resource", r) for r in sorted(bucket.cross_resources)]
        entities += [Entity("ip", ip) for ip in sorted(bucket.source_ips)]
        if bucket.account_id:
            entities.append(Entity("account", bucket.account_id))
        first = bucket.first_seen or bucket.start
        last = bucket.last_seen or bucket.end
        return Finding(
            summary=(
                f"{principal} ({owner}) made {bucket.calls} calls in "
                f"{minutes} min, {bucket.cross_tenant} of them on tenant {victim}'s resources "
                f"({bucket.cross_tenant_data} reading data): {why}"
            ),
            tenant_id=victim,
            actor_tenant_id=actor_tenant if actor_tenant != victim else None,
            first_seen=first,
            last_seen=last,
            evidence=tuple(sorted(bucket.evidence)),
            entities=tuple(entities),
            severity=Severity.HIGH if extreme else Severity.MEDIUM,
            confidence=confidence,
            details={
                "bucket_start": bucket.start.isoformat(),
                "bucket_seconds": int(baseline.bucket.total_seconds()),
                "drivers": drivers,
                "features": score.values,
                "zscores": score.zscores,
                "baseline": {"scope": score.scope, "median": score.median, "scale": score.scale},
                "forest_score": score.forest_score,
                "forest_outlier": score.forest_outlier,
                "forest_threshold": baseline.forest_threshold,
                "principal": principal,
                "other_tenants": dict(sorted(bucket.other_tenants.items())),
                "actions": sorted(bucket.actions),
                "model": baseline.describe(),
            },
        )

    cases = (
        Case(
            "umbrella's ETL user pulls initech's payroll bucket",
            (Records("cloudtrail", _s3_reads(24, "initech-payroll", "118238665043")),),
            (Expect(Severity.HIGH, "initech", "umbrella", summary_contains="24 of them"),),
            settings={"baseline": _BASELINE},
        ),
        Case(
            "a modest but unusual read of another tenant's bucket",
            (Records("cloudtrail", _s3_reads(6, "initech-payroll", "118238665043")),),
            (Expect(Severity.MEDIUM, "initech", "umbrella", summary_contains="cross_tenant"),),
            settings={"baseline": _BASELINE},
        ),
        Case(
            "the same volume on the tenant's own bucket",
            (Records("cloudtrail", _s3_reads(24, "umbrella-exports", "756680937392")),),
            (),
            settings={"baseline": _BASELINE},
        ),
        Case(
            "two reads of another tenant's bucket: within the baseline",
            (Records("cloudtrail", _s3_reads(2, "initech-payroll", "118238665043")),),
            (),
            settings={"baseline": _BASELINE},
        ),
        Case(
            "no model configured: inactive",
            (Records("cloudtrail", _s3_reads(24, "initech-payroll", "118238665043")),),
            (),
        ),
    )
