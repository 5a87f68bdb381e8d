"""The console's vendored npm libraries match their lock (offline: `vendor.py --check`), and the
check notices a changed or an extra file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "ui" / "vendor"
SCRIPT = VENDOR / "vendor.py"


def run_check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--dir", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_committed_files_match_the_lock() -> None:
    done = run_check(VENDOR)
    assert done.returncode == 0, done.stderr


def test_a_changed_or_extra_file_fails_the_check(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    module = copy / "cytoscape" / "cytoscape.esm.min.mjs"
    module.write_bytes(module.read_bytes() + b"\n// changed")
    (copy / "uplot" / "extra.js").write_text("export {};\n")
    done = run_check(copy)
    assert done.returncode == 1
    assert "cytoscape/cytoscape.esm.min.mjs: sha256 differs" in done.stderr
    assert "uplot/extra.js: not in the lock" in done.stderr
