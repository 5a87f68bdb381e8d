"""Pinned Maven jars: the real sets resolve and verify; the checks refuse what is not pinned."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from fenghuo.errors import ArtifactError
from fenghuo.maven_jars import (
    CLASSES,
    STAMP,
    Compiler,
    JarSet,
    Resolver,
    ensure_jars,
    jar_set_dir,
    load_jar_sets,
    load_lock,
)

BODIES = {"a-1.0.jar": b"jar a", "b-2.0.jar": b"jar b"}


def jar_set(tmp_path: Path, bodies: dict[str, bytes] = BODIES) -> JarSet:
    folder = tmp_path / "maven" / "fake"
    folder.mkdir(parents=True)
    (folder / "pom.xml").write_text("<project/>")
    lines = ["# pinned"]
    for name, body in bodies.items():
        artifact, version = name.removesuffix(".jar").rsplit("-", 1)
        lines.append(f"org.example:{artifact}:{version} {hashlib.sha256(body).hexdigest()}")
    (folder / "jars.lock").write_text("\n".join(lines) + "\n")
    return load_jar_sets(tmp_path / "maven")["fake"]


def writer(files: dict[str, bytes], calls: list[str]) -> Resolver:
    def resolve(js: JarSet, dest: Path) -> None:
        calls.append(js.name)
        for name, body in files.items():
            (dest / name).write_bytes(body)

    return resolve


def test_real_sets_are_pinned_and_installed() -> None:
    sets = load_jar_sets()
    assert set(sets) == {"kafka-broker", "flink-kafka", "opensearch-node"}
    assert len(sets["kafka-broker"].jars) == 45
    assert len(sets["opensearch-node"].jars) == 74
    assert "opensearch-2.19.6.jar" in sets["opensearch-node"].jars
    assert [p.name for p in sets["opensearch-node"].sources] == ["FenghuoSearchNode.java"]
    assert (jar_set_dir("opensearch-node") / CLASSES / "FenghuoSearchNode.class").is_file()
    assert "kafka_2.13-4.4.0.jar" in sets["kafka-broker"].jars
    flink = jar_set_dir("flink-kafka")
    assert sorted(p.name for p in flink.glob("*.jar")) == [
        "flink-connector-kafka-4.0.1-2.0.jar",
        "kafka-clients-3.9.1.jar",
    ]
    assert (jar_set_dir("kafka-broker") / "kafka_2.13-4.4.0.jar").is_file()


def test_installs_once_then_reads_the_stamp(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    calls: list[str] = []
    root = tmp_path / "artifacts"
    target = ensure_jars(js, root=root, resolve=writer(BODIES, calls))
    assert target == root / js.dirname
    assert (target / "a-1.0.jar").read_bytes() == b"jar a"
    assert ensure_jars(js, root=root, resolve=writer(BODIES, calls)) == target
    assert calls == ["fake"]
    assert [p.name for p in root.iterdir()] == [target.name]  # no staging left behind


def test_unlisted_jar_is_refused(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    root = tmp_path / "artifacts"
    with pytest.raises(ArtifactError, match=r"not in .*c-3.0.jar"):
        ensure_jars(js, root=root, resolve=writer({**BODIES, "c-3.0.jar": b"c"}, []))
    assert not (root / js.dirname).exists()


def test_mismatch_and_missing_jars_are_refused(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    root = tmp_path / "artifacts"
    with pytest.raises(ArtifactError, match=r"sha256 mismatch for b-2\.0\.jar"):
        ensure_jars(js, root=root, resolve=writer({**BODIES, "b-2.0.jar": b"evil"}, []))
    with pytest.raises(ArtifactError, match=r"not resolved: \['b-2.0.jar'\]"):
        ensure_jars(js, root=root, resolve=writer({"a-1.0.jar": b"jar a"}, []))
    assert not (root / js.dirname).exists()


def test_a_changed_lock_installs_a_new_set(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    root = tmp_path / "artifacts"
    first = ensure_jars(js, root=root, resolve=writer(BODIES, []))
    with js.lock.open("a") as f:
        f.write(f"org.example:c:3.0 {hashlib.sha256(b'c').hexdigest()}\n")
    changed = load_jar_sets(tmp_path / "maven")["fake"]
    calls: list[str] = []
    second = ensure_jars(changed, root=root, resolve=writer({**BODIES, "c-3.0.jar": b"c"}, calls))
    assert second != first
    assert calls == ["fake"]


def test_malformed_lock_lines_are_errors(tmp_path: Path) -> None:
    lock = tmp_path / "jars.lock"
    lock.write_text("org.example:a 0123\n")
    with pytest.raises(ArtifactError, match=r"jars\.lock:1"):
        load_lock(lock)


HELLO = """public final class Hello {
    public static void main(String[] args) { System.out.println("hello " + args[0]); }
}
"""


def counting_compiler(calls: list[str]) -> Compiler:
    def compile_sources(js: JarSet, jars: Path, classes: Path) -> None:
        calls.append(js.name)
        assert (jars / "a-1.0.jar").is_file()  # compiled against the verified jars
        (classes / "Hello.class").write_bytes(b"\xca\xfe\xba\xbe")

    return compile_sources


def real_jar(name: str) -> bytes:
    """A valid (if empty) jar: javac reads every jar on its classpath."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nName: {name}\n")
    return buffer.getvalue()


def test_sources_are_compiled_with_javac_and_run(tmp_path: Path) -> None:
    bodies = {name: real_jar(name) for name in BODIES}
    js = jar_set(tmp_path, bodies)
    (js.folder / "Hello.java").write_text(HELLO)
    target = ensure_jars(js, root=tmp_path / "artifacts", resolve=writer(bodies, []))
    assert (target / CLASSES / "Hello.class").is_file()
    stamp = json.loads((target / STAMP).read_text())
    assert stamp["classes"] == ["Hello.class"]
    java = shutil.which("java")
    assert java is not None
    run = [java, "-cp", f"{target}/*:{target / CLASSES}", "Hello", "node"]
    out = subprocess.run(run, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout == "hello node\n"


def test_a_changed_source_recompiles_into_a_new_set(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    source = js.folder / "Hello.java"
    source.write_text(HELLO)
    root = tmp_path / "artifacts"
    calls: list[str] = []
    first = ensure_jars(
        js, root=root, resolve=writer(BODIES, []), compile_sources=counting_compiler(calls)
    )
    assert ensure_jars(js, root=root, compile_sources=counting_compiler(calls)) == first
    assert calls == ["fake"]
    source.write_text(HELLO.replace("hello ", "hi "))
    second = ensure_jars(
        js, root=root, resolve=writer(BODIES, []), compile_sources=counting_compiler(calls)
    )
    assert second != first
    assert calls == ["fake", "fake"]


def test_missing_classes_reinstall_the_set(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    (js.folder / "Hello.java").write_text(HELLO)
    root = tmp_path / "artifacts"
    calls: list[str] = []
    target = ensure_jars(
        js, root=root, resolve=writer(BODIES, calls), compile_sources=counting_compiler([])
    )
    (target / CLASSES / "Hello.class").unlink()
    again = ensure_jars(
        js, root=root, resolve=writer(BODIES, calls), compile_sources=counting_compiler([])
    )
    assert again == target
    assert (target / CLASSES / "Hello.class").is_file()
    assert calls == ["fake", "fake"]


def test_a_javac_error_installs_nothing(tmp_path: Path) -> None:
    bodies = {name: real_jar(name) for name in BODIES}
    js = jar_set(tmp_path, bodies)
    (js.folder / "Broken.java").write_text("public final class Broken { int x = ; }\n")
    root = tmp_path / "artifacts"
    with pytest.raises(ArtifactError, match=r"(?s)javac of jar set fake failed.*Broken\.java:1"):
        ensure_jars(js, root=root, resolve=writer(bodies, []))
    assert not (root / js.dirname).exists()


def test_a_compiler_without_classes_is_an_error(tmp_path: Path) -> None:
    js = jar_set(tmp_path)
    (js.folder / "Hello.java").write_text(HELLO)
    with pytest.raises(ArtifactError, match="produced no classes"):
        ensure_jars(
            js,
            root=tmp_path / "artifacts",
            resolve=writer(BODIES, []),
            compile_sources=lambda _js, _jars, _classes: None,
        )
