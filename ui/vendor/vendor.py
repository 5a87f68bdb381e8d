#!/usr/bin/env python3
"""Vendor the console's third-party browser libraries from the npm registry, pinned and checked.

The console has no build step and no Node.js at run time, so the few libraries it uses are
committed here as files. This script is the one repeatable way they get here:

1. `npm pack NAME@VERSION` into a temporary directory (the registry's own tarball);
2. the tarball's sha512 must equal the `integrity` pinned in `vendor.lock.json` (the value
   `npm view NAME@VERSION dist.integrity` gave when the version was pinned: `--pin` records it
   for a package whose lock entry has none yet);
3. only the files the lock lists are extracted (regular files, no links, no paths outside),
   with the licence, into `ui/vendor/NAME/`, and each one's sha256 is written to the lock.

`--check` verifies the committed files against the lock without the network: every listed file
present with its sha256, nothing else in the package directories. The tests run it.

To change a version: edit `version` in the lock, delete its `integrity`, run with `--pin`, and
review the diff (the new integrity, the files' hashes).

Usage: python ui/vendor/vendor.py [--pin] [--check] [--dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

HERE = Path(__file__).resolve().parent
LOCK = "vendor.lock.json"


class VendorError(Exception):
    """A tarball or a committed file does not match the lock."""


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sri_sha512(path: Path) -> str:
    """Subresource-integrity form, as npm writes `dist.integrity`."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def load_lock(root: Path) -> dict[str, Any]:
    lock: dict[str, Any] = json.loads((root / LOCK).read_text(encoding="utf-8"))
    return lock


def save_lock(root: Path, lock: dict[str, Any]) -> None:
    text = json.dumps(lock, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    (root / LOCK).write_text(text, encoding="utf-8")


def npm(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["npm", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=300
    )
    return done.stdout.strip()


def pinned_integrity(name: str, entry: dict[str, Any], pin: bool, work: Path) -> str:
    integrity = entry.get("integrity")
    if integrity:
        return str(integrity)
    if not pin:
        msg = f"{name}: no integrity pinned in {LOCK}; run with --pin to record the registry's"
        raise VendorError(msg)
    value = npm("view", f"{name}@{entry['version']}", "dist.integrity", cwd=work)
    if not value.startswith("sha512-"):
        msg = f"{name}: the registry gave no sha512 integrity ({value!r})"
        raise VendorError(msg)
    entry["integrity"] = value
    say(f"{name}: pinned {value}")
    return value


def extract(tarball: Path, members: dict[str, str], target: Path) -> None:
    """Copy `package/<path>` members to `target/<name>`: regular files only."""
    with tarfile.open(tarball, "r:gz") as tar:
        for source, name in members.items():
            if PurePosixPath(name).name != name or name in ("", ".", ".."):
                msg = f"{name!r}: a vendored file name must be a plain name"
                raise VendorError(msg)
            member = tar.getmember(f"package/{source}")
            if not member.isreg():
                msg = f"{tarball.name}: {source} is not a regular file"
                raise VendorError(msg)
            handle = tar.extractfile(member)
            if handle is None:
                msg = f"{tarball.name}: {source} cannot be read"
                raise VendorError(msg)
            with handle, (target / name).open("wb") as out:
                shutil.copyfileobj(handle, out)


def vendor(root: Path, pin: bool) -> None:
    lock = load_lock(root)
    with tempfile.TemporaryDirectory(prefix="fenghuo-vendor-") as tmp:
        work = Path(tmp)
        for name, entry in lock["packages"].items():
            integrity = pinned_integrity(name, entry, pin, work)
            packed = npm("pack", f"{name}@{entry['version']}", "--silent", cwd=work)
            tarball = work / packed.splitlines()[-1]
            actual = sri_sha512(tarball)
            if actual != integrity:
                msg = f"{name}@{entry['version']}: tarball {actual} != pinned {integrity}"
                raise VendorError(msg)
            target = root / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir()
            extract(tarball, entry["files"], target)
            entry["sha256"] = {f: sha256(target / f) for f in sorted(entry["files"].values())}
            say(f"{name}@{entry['version']}: {', '.join(sorted(entry['sha256']))}")
    save_lock(root, lock)


def check(root: Path) -> list[str]:
    """Differences between the committed files and the lock (empty: all is well)."""
    problems: list[str] = []
    for name, entry in load_lock(root)["packages"].items():
        wanted: dict[str, str] = entry.get("sha256", {})
        if sorted(wanted) != sorted(entry["files"].values()):
            problems.append(f"{name}: the lock's hashes do not cover its files; re-run vendoring")
        target = root / name
        present = {p.name for p in target.iterdir()} if target.is_dir() else set()
        for extra in sorted(present - set(wanted)):
            problems.append(f"{name}/{extra}: not in the lock")
        for file, digest in sorted(wanted.items()):
            path = target / file
            if not path.is_file():
                problems.append(f"{name}/{file}: missing")
            elif sha256(path) != digest:
                problems.append(f"{name}/{file}: sha256 differs from the lock")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Vendor the console's npm libraries.")
    parser.add_argument("--check", action="store_true", help="verify files offline")
    parser.add_argument("--pin", action="store_true", help="record missing integrity values")
    parser.add_argument("--dir", type=Path, default=HERE, help="the vendor directory")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.dir)
            for problem in problems:
                sys.stderr.write(problem + "\n")
            if not problems:
                say(f"vendored files match {LOCK}")
            return 1 if problems else 0
        vendor(args.dir, args.pin)
    except (VendorError, subprocess.CalledProcessError, KeyError) as exc:
        sys.stderr.write(f"vendor: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
