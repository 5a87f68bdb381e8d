"""Per-tenant behaviour baselines: robust statistics per feature plus an IsolationForest.

For every tenant (and over all tenants, the fallback for tenants with too little history) the
baseline keeps each feature's median and a robust scale, so a bucket's deviation is a z-score
an analyst can read ("cross_tenant_calls 40, z=+31 against a median of 0"). An IsolationForest,
fitted on those z-scores of the whole benign history, adds what single features miss: unusual
combinations. Its outlier threshold is a low quantile of the training scores.

The summary (robust statistics) is plain data: it can be written inline in a detector setting,
so detector cases need no model file. The forest only comes from a model file (`store.py`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fenghuo.detectors.baseline.features import FEATURES, SHARE_FEATURES
from fenghuo.errors import ConfigError

FORMAT: Literal["fenghuo-baseline"] = "fenghuo-baseline"
FORMAT_VERSION = 1
# Normal-equivalent sigma from a high quantile: (p99 - median) / 2.326.
_P99_SIGMA = 2.326
_MAD_SIGMA = 1.4826
_FLOOR = {name: (0.05 if name in SHARE_FEATURES else 1.0) for name in FEATURES}
_RELATIVE_FLOOR = 0.1  # the scale is at least this share of the median
Z_CLIP = 50.0


class BaselineError(ConfigError):
    """A baseline model file or inline summary cannot be used; the message says why and what
    to do (usually: retrain with `fenghuo train`)."""


class FeatureStats(BaseModel):
    """Median and robust scale of every feature, over `buckets` buckets of benign history.
    Features missing from an inline summary default to median 0 and the feature's floor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    buckets: int = 0
    median: dict[str, float] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_features(self) -> FeatureStats:
        unknown = (set(self.median) | set(self.scale)) - set(FEATURES)
        if unknown:
            msg = f"unknown features {sorted(unknown)}; known: {', '.join(FEATURES)}"
            raise ValueError(msg)
        if any(v <= 0 or not math.isfinite(v) for v in self.scale.values()):
            msg = "every scale must be a positive finite number"
            raise ValueError(msg)
        return self

    def medians(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([self.median.get(f, 0.0) for f in FEATURES], dtype=np.float64)

    def scales(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        floors = np.array([_FLOOR[f] for f in FEATURES], dtype=np.float64)
        given = np.array([self.scale.get(f, 0.0) for f in FEATURES], dtype=np.float64)
        return np.maximum(given, floors)


class Summary(BaseModel):
    """The robust statistics of a baseline: what a model file's header carries and what a
    detector setting `baseline:` may give inline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["fenghuo-baseline"] = FORMAT
    format_version: int
    bucket_seconds: int = Field(default=300, gt=0)
    features: tuple[str, ...] = FEATURES
    global_: FeatureStats = Field(alias="global")
    tenants: dict[str, FeatureStats] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _compatible(self) -> Summary:
        if self.format_version != FORMAT_VERSION:
            msg = (
                f"baseline format version {self.format_version}, but this Fenghuo reads version "
                f"{FORMAT_VERSION}: retrain it with `fenghuo train`"
            )
            raise ValueError(msg)
        if tuple(self.features) != FEATURES:
            msg = (
                f"baseline features {list(self.features)} differ from this Fenghuo's "
                f"{list(FEATURES)}: retrain it with `fenghuo train`"
            )
            raise ValueError(msg)
        return self


def parse_summary(data: Mapping[str, Any], source: str = "inline baseline") -> Summary:
    try:
        return Summary.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors()
        )
        msg = f"{source}: {problems}"
        raise BaselineError(msg) from None


def fit_stats(rows: np.ndarray[Any, np.dtype[np.float64]]) -> FeatureStats:
    """Median and robust scale per feature: the largest of the MAD-based sigma, the p99-based
    sigma (zero-inflated counts have a MAD of 0), the feature's floor and a share of the median."""
    median = np.median(rows, axis=0)
    mad = np.median(np.abs(rows - median), axis=0) * _MAD_SIGMA
    p99 = (np.quantile(rows, 0.99, axis=0) - median) / _P99_SIGMA
    floors = np.array([_FLOOR[f] for f in FEATURES], dtype=np.float64)
    scale = np.maximum.reduce([mad, p99, floors, np.abs(median) * _RELATIVE_FLOOR])
    return FeatureStats(
        buckets=len(rows),
        median={f: float(v) for f, v in zip(FEATURES, median, strict=True)},
        scale={f: float(v) for f, v in zip(FEATURES, scale, strict=True)},
    )


@dataclass(frozen=True)
class Score:
    """How one bucket compares with its baseline."""

    scope: str  # "tenant:<id>" or "global"
    values: dict[str, float]
    zscores: dict[str, float]
    median: dict[str, float]
    scale: dict[str, float]
    forest_score: float | None  # IsolationForest score_samples: lower is more anomalous
    forest_outlier: bool

    def drivers(self, threshold: float) -> list[str]:
        """Features that deviate by at least `threshold`, most deviant first: counts only
        upwards, shares both ways."""
        hits = [
            f
            for f, z in self.zscores.items()
            if (abs(z) if f in SHARE_FEATURES else z) >= threshold
        ]
        return sorted(hits, key=lambda f: (-abs(self.zscores[f]), f))


class Baseline:
    """A loaded baseline: per-tenant statistics, and the IsolationForest when a model file
    carried one."""

    def __init__(
        self,
        summary: Summary,
        forest: Any = None,  # a fitted sklearn IsolationForest
        forest_threshold: float | None = None,
        *,
        source: str = "inline",
        header: Mapping[str, Any] | None = None,
    ) -> None:
        self.summary = summary
        self.forest = forest
        self.forest_threshold = forest_threshold
        self.source = source
        self.header = dict(header or {})
        self.bucket = dt.timedelta(seconds=summary.bucket_seconds)
        self._stats = {
            name: (stats.medians(), stats.scales()) for name, stats in summary.tenants.items()
        }
        self._global = (summary.global_.medians(), summary.global_.scales())

    @classmethod
    def from_summary(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(parse_summary(data))

    def zscores(
        self, tenant: str, vector: np.ndarray[Any, np.dtype[np.float64]]
    ) -> tuple[str, np.ndarray[Any, np.dtype[np.float64]]]:
        """(scope, z-scores clipped to ±Z_CLIP) against the tenant's statistics, else global."""
        if tenant in self._stats:
            scope, (median, scale) = f"tenant:{tenant}", self._stats[tenant]
        else:
            scope, (median, scale) = "global", self._global
        return scope, np.clip((vector - median) / scale, -Z_CLIP, Z_CLIP)

    def score(self, tenant: str, values: Mapping[str, float]) -> Score:
        vector = np.array([values[f] for f in FEATURES], dtype=np.float64)
        scope, z = self.zscores(tenant, vector)
        median, scale = self._stats.get(tenant, self._global)
        forest_score = None
        outlier = False
        if self.forest is not None and self.forest_threshold is not None:
            forest_score = float(self.forest.score_samples(z.reshape(1, -1))[0])
            outlier = forest_score < self.forest_threshold
        return Score(
            scope=scope,
            values={f: float(v) for f, v in zip(FEATURES, vector, strict=True)},
            zscores={f: round(float(v), 2) for f, v in zip(FEATURES, z, strict=True)},
            median={f: float(v) for f, v in zip(FEATURES, median, strict=True)},
            scale={f: round(float(v), 4) for f, v in zip(FEATURES, scale, strict=True)},
            forest_score=forest_score,
            forest_outlier=outlier,
        )

    def describe(self) -> dict[str, Any]:
        """What an alert records about the model that judged it."""
        return {
            "source": self.source,
            "format_version": self.summary.format_version,
            "bucket_seconds": self.summary.bucket_seconds,
            "forest": self.forest is not None,
            "trained_at": self.header.get("trained_at"),
            "sklearn_version": self.header.get("sklearn_version"),
        }
