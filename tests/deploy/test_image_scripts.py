"""The two scripts the images run, exercised for real: the health check against a live HTTP
server on loopback, and the Flink image's jar registration with the real connector jars
(verified against jars.lock by fenghuo.maven_jars, a tampered jar refused)."""

from __future__ import annotations

import importlib.util
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from fenghuo.artifacts import ENV_DIR, artifacts_root
from fenghuo.errors import ArtifactError
from fenghuo.maven_jars import STAMP, load_jar_sets
from fenghuo.settings import get_settings
from fenghuo.streaming.flink_env import KAFKA_JAR_SET
from tests.deploy import manifests as m


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, m.DOCKER / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ANSWERS = {"/healthz": 200, "/readyz": 503}  # alive, not ready


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(_ANSWERS.get(self.path, 404))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@pytest.fixture
def api_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    monkeypatch.setenv("FENGHUO_API_PORT", str(port))
    get_settings.cache_clear()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        get_settings.cache_clear()


def test_healthcheck_follows_the_api_port_and_the_answer(api_port: int) -> None:
    check = _script("healthcheck")
    assert get_settings().api_port == api_port
    assert check.main(["healthcheck", "/healthz"]) == 0
    assert check.main(["healthcheck", "/readyz"]) == 1  # 503: not ready
    assert check.main(["healthcheck", "/metrics"]) == 2  # not a health route


def test_healthcheck_fails_when_nothing_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    check = _script("healthcheck")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    server.server_close()  # the port is free again: nothing answers there
    monkeypatch.setenv("FENGHUO_API_PORT", str(port))
    get_settings.cache_clear()
    try:
        assert check.main(["healthcheck", "/healthz"]) == 1
    finally:
        get_settings.cache_clear()


@pytest.fixture
def flink_lib(tmp_path: Path) -> Path:
    """A stand-in for /opt/flink/lib holding the real connector jars (from `fenghuo setup`)."""
    jar_set = load_jar_sets()[KAFKA_JAR_SET]
    installed = artifacts_root() / jar_set.dirname
    if not (installed / STAMP).is_file():
        pytest.skip(f"the connector jars are not installed at {installed}: run `fenghuo setup`")
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in jar_set.jars:
        shutil.copyfile(installed / name, lib / name)
    return lib


def test_register_jars_installs_the_verified_set(
    flink_lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "artifacts"))
    register = _script("register_jars")
    assert register.main(["register_jars", str(flink_lib)]) == 0
    jar_set = load_jar_sets()[KAFKA_JAR_SET]
    target = tmp_path / "artifacts" / jar_set.dirname
    assert sorted(p.name for p in target.glob("*.jar")) == sorted(jar_set.jars)
    assert (target / STAMP).is_file()


def test_register_jars_refuses_a_tampered_jar(
    flink_lib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "artifacts"))
    victim = sorted(flink_lib.glob("kafka-clients-*.jar"))[0]
    with victim.open("ab") as handle:
        handle.write(b"\0")
    register = _script("register_jars")
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        register.main(["register_jars", str(flink_lib)])
    assert not list((tmp_path / "artifacts").glob("maven-*/*.jar"))
