"""Per-tenant behaviour baselines learned with scikit-learn (`fenghuo train`), read by the
`anomalous-access-volume` detector.

`train_baseline(events, out)` fits on benign history and writes a versioned model file;
`load_baseline(path)` reads it back (a clear `BaselineError` for another format version, another
scikit-learn version or a damaged file). scikit-learn is imported only when a model is trained
or loaded.
"""

from __future__ import annotations

from fenghuo.detectors.baseline.features import DEFAULT_BUCKET, FEATURES
from fenghuo.detectors.baseline.model import (
    FORMAT_VERSION,
    Baseline,
    BaselineError,
    Score,
    Summary,
)
from fenghuo.detectors.baseline.store import TrainReport, load_baseline, train_baseline

__all__ = [
    "DEFAULT_BUCKET",
    "FEATURES",
    "FORMAT_VERSION",
    "Baseline",
    "BaselineError",
    "Score",
    "Summary",
    "TrainReport",
    "load_baseline",
    "train_baseline",
]
