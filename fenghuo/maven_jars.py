"""Pinned Maven Central jars: the Kafka broker, Flink's Kafka connector, the OpenSearch node.

Each folder `fenghuo/maven/<name>/` holds a small `pom.xml` and a `jars.lock` listing every jar
the set may contain (`groupId:artifactId:version sha256`). `ensure_jars` resolves the pom with
`mvn -B -q dependency:copy-dependencies` (so Maven's repository and mirror settings apply),
refuses a jar that is not listed, a listed one that is missing and any sha256 mismatch, and
installs the jars into `<artifacts root>/maven-<name>-<digest>/` through a staging folder renamed
into place, with a stamp. A set may also hold Java sources (`*.java`, a small main such as the
OpenSearch node's): they are compiled with `javac --release 17` against the verified jars into
`classes/` of the installed set. The digest covers the pom, the lock and the sources, so changing
any of them installs a fresh set beside the old one; a second call costs a file read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fenghuo.artifacts import artifacts_root, sha256_file
from fenghuo.errors import ArtifactError

MAVEN_DIR = Path(__file__).with_name("maven")
STAMP = ".fenghuo-jars.json"
CLASSES = "classes"  # the compiled sources, inside the installed set
JAVA_RELEASE = "17"  # the project's Java: the classes must run on it


@dataclass(frozen=True)
class Jar:
    """One pinned jar: its Maven coordinates and sha256."""

    group: str
    artifact: str
    version: str
    sha256: str

    @property
    def file_name(self) -> str:
        """The name `dependency:copy-dependencies` gives it."""
        return f"{self.artifact}-{self.version}.jar"


@dataclass(frozen=True)
class JarSet:
    """A pom and its lock: the jars one Java program needs."""

    name: str
    folder: Path
    jars: Mapping[str, Jar]  # file name -> jar

    @property
    def pom(self) -> Path:
        return self.folder / "pom.xml"

    @property
    def lock(self) -> Path:
        return self.folder / "jars.lock"

    @property
    def sources(self) -> list[Path]:
        """The set's Java sources, compiled at install time."""
        return sorted(self.folder.glob("*.java"))

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.pom.read_bytes())
        h.update(self.lock.read_bytes())
        for source in self.sources:
            h.update(f"\0{source.name}\0".encode())
            h.update(source.read_bytes())
        return h.hexdigest()

    @property
    def dirname(self) -> str:
        return f"maven-{self.name}-{self.digest[:12]}"


# Resolves the set's jars into the given (empty) folder.
Resolver = Callable[[JarSet, Path], None]
# Compiles the set's sources against the jars of the first folder into the second.
Compiler = Callable[[JarSet, Path, Path], None]


def load_lock(path: Path) -> dict[str, Jar]:
    """Parse a jars.lock; a malformed line or a duplicate file name is an ArtifactError."""
    jars: dict[str, Jar] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        coords = parts[0].split(":") if len(parts) == 2 else []
        if len(coords) != 3 or len(parts[1]) != 64:
            msg = f"{path}:{number}: expected 'groupId:artifactId:version sha256', got {line!r}"
            raise ArtifactError(msg)
        jar = Jar(coords[0], coords[1], coords[2], parts[1].lower())
        if jar.file_name in jars:
            msg = f"{path}:{number}: {jar.file_name} is listed twice"
            raise ArtifactError(msg)
        jars[jar.file_name] = jar
    return jars


def load_jar_sets(folder: Path = MAVEN_DIR) -> dict[str, JarSet]:
    """Every `<name>/pom.xml` with its `jars.lock` under `folder`, by name."""
    sets: dict[str, JarSet] = {}
    for pom in sorted(folder.glob("*/pom.xml")):
        lock = pom.with_name("jars.lock")
        if not lock.is_file():
            msg = f"{pom} has no jars.lock beside it"
            raise ArtifactError(msg)
        sets[pom.parent.name] = JarSet(pom.parent.name, pom.parent, load_lock(lock))
    return sets


def jar_set_dir(name: str, *, root: Path | None = None) -> Path:
    """The folder of the named set's verified jars, resolving them first if needed."""
    sets = load_jar_sets()
    if name not in sets:
        msg = f"unknown jar set {name!r}; fenghuo/maven has {sorted(sets)}"
        raise ArtifactError(msg)
    return ensure_jars(sets[name], root=root)


def ensure_all_jars(*, root: Path | None = None) -> dict[str, Path]:
    """Ensure every jar set (part of `fenghuo setup`)."""
    return {name: ensure_jars(s, root=root) for name, s in load_jar_sets().items()}


def ensure_jars(
    jar_set: JarSet,
    *,
    root: Path | None = None,
    resolve: Resolver | None = None,
    compile_sources: Compiler | None = None,
) -> Path:
    """Resolve, verify and install one jar set (its sources compiled) unless a verified copy is
    already in place."""
    base = root if root is not None else artifacts_root()
    target = base / jar_set.dirname
    if _is_complete(jar_set, target):
        return target
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".mvn-{jar_set.name}-", dir=base) as tmp:
        staging = Path(tmp) / "staging"
        staging.mkdir()
        (resolve or mvn_resolve)(jar_set, staging)
        verify(jar_set, staging)
        classes: list[str] = []
        if jar_set.sources:
            (staging / CLASSES).mkdir()
            (compile_sources or javac_compile)(jar_set, staging, staging / CLASSES)
            classes = _class_files(staging / CLASSES)
            if not classes:
                msg = f"jar set {jar_set.name}: compiling {jar_set.sources} produced no classes"
                raise ArtifactError(msg)
        stamp = {"digest": jar_set.digest, "jars": sorted(jar_set.jars), "classes": classes}
        (staging / STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            # Another process won the race; its copy is as good as ours if complete.
            if not _is_complete(jar_set, target):
                raise
    return target


def mvn_resolve(jar_set: JarSet, dest: Path) -> None:
    """Copy the pom's dependencies into `dest` with Maven (a copy of the pom, so that Maven
    writes nothing next to the installed package)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        msg = "Maven (mvn) is needed to fetch the pinned jars; install it (./dev does: apt maven)"
        raise ArtifactError(msg)
    with tempfile.TemporaryDirectory(prefix="fenghuo-pom-") as work:
        pom = Path(work) / "pom.xml"
        shutil.copyfile(jar_set.pom, pom)
        cmd = [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies"]
        cmd.append(f"-DoutputDirectory={dest}")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=work)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        msg = f"mvn dependency:copy-dependencies for {jar_set.name} failed:\n{tail}"
        raise ArtifactError(msg)


def javac_compile(jar_set: JarSet, jars: Path, classes: Path) -> None:
    """`javac --release 17` of the set's sources with its jars on the classpath."""
    javac = shutil.which("javac")
    if javac is None:
        msg = f"the JDK's javac is needed to compile {jar_set.name}'s Java sources; install it "
        msg += "(./dev does: apt openjdk-17-jdk-headless)"
        raise ArtifactError(msg)
    cmd = [javac, "--release", JAVA_RELEASE, "-encoding", "UTF-8", "-nowarn"]
    cmd += ["-cp", f"{jars}/*", "-d", str(classes), *map(str, jar_set.sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        msg = f"javac of jar set {jar_set.name} failed ({proc.returncode}):\n{tail}"
        raise ArtifactError(msg)


def verify(jar_set: JarSet, folder: Path) -> None:
    """Every file in `folder` is a pinned jar with its sha256, and every pinned jar is there
    (folders, such as the compiled `classes/`, are not jars and are not looked at)."""
    found = {p.name: p for p in folder.iterdir() if p.is_file() and p.name != STAMP}
    unlisted = sorted(set(found) - set(jar_set.jars))
    if unlisted:
        msg = f"jar set {jar_set.name}: Maven resolved jars not in {jar_set.lock}: {unlisted}"
        raise ArtifactError(msg)
    missing = sorted(set(jar_set.jars) - set(found))
    if missing:
        msg = f"jar set {jar_set.name}: pinned jars not resolved: {missing}"
        raise ArtifactError(msg)
    for name, path in sorted(found.items()):
        actual = sha256_file(path)
        if actual != jar_set.jars[name].sha256:
            msg = (
                f"jar set {jar_set.name}: sha256 mismatch for {name}: "
                f"expected {jar_set.jars[name].sha256}, got {actual}"
            )
            raise ArtifactError(msg)


def _is_complete(jar_set: JarSet, target: Path) -> bool:
    try:
        stamp = json.loads((target / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("digest") != jar_set.digest:
        return False
    classes = stamp.get("classes", [])
    if jar_set.sources and not classes:
        return False
    return all((target / name).is_file() for name in jar_set.jars) and all(
        (target / CLASSES / str(name)).is_file() for name in classes
    )


def _class_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.class"))
