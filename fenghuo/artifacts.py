"""Where Fenghuo keeps the files it fetches but never installs as Python packages: the Maven
Central jar sets pinned under fenghuo/maven/ (the Kafka broker, Flink's Kafka connector, the
OpenSearch node; see `fenghuo.maven_jars`), under `<sys.prefix>/share/fenghuo/artifacts/` or
`$FENGHUO_ARTIFACTS_DIR`. `ensure_all` is what `fenghuo setup` runs.

(A manifest of pinned PyPI wheels lived here while the broker and the Flink connector came from
PyPI repackagings; Maven Central replaced both, and nothing needs it any more.)
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

ENV_DIR = "FENGHUO_ARTIFACTS_DIR"


def artifacts_root() -> Path:
    """Where artifacts live: $FENGHUO_ARTIFACTS_DIR, else inside the running environment."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(sys.prefix) / "share" / "fenghuo" / "artifacts"


def ensure_all(*, root: Path | None = None) -> dict[str, Path]:
    """Ensure every Maven jar set (resolved, verified, its Java compiled): `fenghuo setup`."""
    from fenghuo.maven_jars import ensure_all_jars  # it builds on this module

    return ensure_all_jars(root=root)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
