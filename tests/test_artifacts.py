"""Pinned PyPI artifacts: verification logic on a locally built wheel (the manifest lists none
today; the Maven jar sets are tested in test_maven_jars.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from fenghuo.artifacts import (
    STAMP,
    Artifact,
    Fetcher,
    artifacts_root,
    ensure,
    load_manifest,
    sha256_file,
)
from fenghuo.errors import ArtifactError

WHEEL = "fake_pkg-1.0-py3-none-any.whl"


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / "src" / WHEEL
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fake_pkg/bin/tool", "#!/bin/sh\necho fake-tool\n")
        zf.writestr("fake_pkg/data.txt", "kept")
        zf.writestr("fake_pkg/other.txt", "not extracted")
    return path


def fake(wheel: Path, **changes: object) -> Artifact:
    art = Artifact(
        name="fake",
        package="fake-pkg",
        version="1.0",
        files={WHEEL: sha256_file(wheel)},
        members=("fake_pkg/bin/tool", "fake_pkg/data.txt"),
        executable=("fake_pkg/bin/tool",),
    )
    return dataclasses.replace(art, **changes)  # type: ignore[arg-type]


def copier(wheel: Path, calls: list[str]) -> Fetcher:
    def fetch(art: Artifact, dest: Path) -> Path:
        calls.append(art.name)
        return Path(shutil.copy(wheel, dest))

    return fetch


def test_manifest_pins_every_file_by_sha256() -> None:
    for art in load_manifest().values():
        assert art.files
        for filename, sha in art.files.items():
            assert filename.endswith(".whl")
            assert re.fullmatch(r"[0-9a-f]{64}", sha)


def test_extracts_listed_members_once(tmp_path: Path, wheel: Path) -> None:
    calls: list[str] = []
    root = tmp_path / "artifacts"
    target = ensure(fake(wheel), root=root, fetch=copier(wheel, calls))
    assert target == root / "fake-pkg-1.0"
    assert (target / "fake_pkg/data.txt").read_text() == "kept"
    assert not (target / "fake_pkg/other.txt").exists()
    assert os.access(target / "fake_pkg/bin/tool", os.X_OK)
    assert not os.access(target / "fake_pkg/data.txt", os.X_OK)
    stamp = json.loads((target / STAMP).read_text())
    assert stamp == {"file": WHEEL, "sha256": sha256_file(wheel)}
    assert sorted(p.name for p in root.iterdir()) == ["fake-pkg-1.0"]  # no staging left over

    assert ensure(fake(wheel), root=root, fetch=copier(wheel, calls)) == target
    assert calls == ["fake"]  # the second call found the verified copy


def test_tampered_sha_raises_with_both_hashes(tmp_path: Path, wheel: Path) -> None:
    bad = "0" * 64
    root = tmp_path / "artifacts"
    with pytest.raises(ArtifactError) as info:
        ensure(fake(wheel, files={WHEEL: bad}), root=root, fetch=copier(wheel, []))
    assert bad in str(info.value)
    assert sha256_file(wheel) in str(info.value)
    assert not (root / "fake-pkg-1.0").exists()


def test_unpinned_file_is_refused(tmp_path: Path, wheel: Path) -> None:
    art = fake(wheel, files={"fake_pkg-1.0-py3-none-win_amd64.whl": sha256_file(wheel)})
    with pytest.raises(ArtifactError, match="not pinned"):
        ensure(art, root=tmp_path / "a", fetch=copier(wheel, []))


def test_missing_member_is_an_error(tmp_path: Path, wheel: Path) -> None:
    art = fake(wheel, members=("fake_pkg/absent",), executable=())
    with pytest.raises(ArtifactError, match="no member fake_pkg/absent"):
        ensure(art, root=tmp_path / "a", fetch=copier(wheel, []))


def test_stale_stamp_is_replaced(tmp_path: Path, wheel: Path) -> None:
    root = tmp_path / "artifacts"
    target = root / "fake-pkg-1.0"
    target.mkdir(parents=True)
    (target / STAMP).write_text(json.dumps({"file": WHEEL, "sha256": "f" * 64}))
    calls: list[str] = []
    ensure(fake(wheel), root=root, fetch=copier(wheel, calls))
    assert calls == ["fake"]
    assert json.loads((target / STAMP).read_text())["sha256"] == sha256_file(wheel)


def test_member_paths_must_stay_inside(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        '[evil]\npackage = "x"\nversion = "1"\nmembers = ["../../etc/passwd"]\n'
        '[evil.files]\n"x-1-py3-none-any.whl" = "00"\n'
    )
    with pytest.raises(ArtifactError, match="relative path"):
        load_manifest(manifest)


def test_artifacts_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FENGHUO_ARTIFACTS_DIR", str(tmp_path))
    assert artifacts_root() == tmp_path
