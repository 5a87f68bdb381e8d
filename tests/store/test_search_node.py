"""The embedded OpenSearch node starts green and answers REST, stops cleanly with SIGTERM, keeps
what it acknowledged across a stop and a SIGKILL, dies with its parent, and refuses a bad heap or
a taken port with a clear error. Plain HTTP (httpx) against the REST API: no client library."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import fenghuo.store.search_node as search_node_module
from fenghuo.errors import ConfigError
from fenghuo.settings import Settings
from fenghuo.store.search_node import SearchNode, SearchNodeError, run_search_node_forever

pytestmark = pytest.mark.search  # every test here runs a node (its own or the session's)

MAPPINGS = {
    "properties": {
        "title": {"type": "text"},
        "tenant": {"type": "keyword"},
        "at": {"type": "date"},
    }
}
ALERT = {"title": "VM escape attempt on hv-01", "tenant": "acme", "at": "2026-12-07T21:00:00Z"}


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_using(path: Path) -> list[int]:
    """Pids whose command line names `path` (a JVM left behind would)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.fixture
def client(search_node: SearchNode) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=search_node.url, timeout=30) as c:
        yield c


def create_index(client: httpx.Client, index: str) -> None:
    response = client.put(f"/{index}", json={"mappings": MAPPINGS})
    assert response.status_code == 200, response.text
    assert response.json()["acknowledged"] is True


def index_doc(client: httpx.Client, index: str, doc_id: str, *, refresh: bool) -> None:
    params = {"refresh": "true"} if refresh else {}
    response = client.put(f"/{index}/_doc/{doc_id}", params=params, json=ALERT)
    assert response.status_code == 201, response.text


def search_ids(client: httpx.Client, index: str, query: dict[str, Any]) -> list[str]:
    response = client.post(f"/{index}/_search", json={"query": query})
    assert response.status_code == 200, response.text
    return [hit["_id"] for hit in response.json()["hits"]["hits"]]


def test_node_answers_rest_index_and_search(search_node: SearchNode, client: httpx.Client) -> None:
    assert search_node.is_running()
    assert search_node.url == f"http://127.0.0.1:{search_node.http_port}"
    root = client.get("/").json()
    assert root["version"]["distribution"] == "opensearch"
    assert root["version"]["number"] == "2.19.6"
    index = f"alerts-{uuid.uuid4().hex[:8]}"
    create_index(client, index)
    # One node, no replica: the new index is green, not yellow.
    health = client.get(f"/_cluster/health/{index}", params={"wait_for_status": "green"}).json()
    assert health["status"] == "green"
    index_doc(client, index, "a1", refresh=True)
    assert search_ids(client, index, {"match": {"title": "escape"}}) == ["a1"]
    assert search_ids(client, index, {"term": {"tenant": "other"}}) == []
    # The common analysers (a module loaded from the classpath) are there.
    analysed = client.post("/_analyze", json={"analyzer": "pattern", "text": "hv-01 VM"}).json()
    assert [t["token"] for t in analysed["tokens"]] == ["hv", "01", "vm"]
    # And so are Painless scripts and _update_by_query (two more modules).
    updated = client.post(
        f"/{index}/_update_by_query",
        params={"refresh": "true"},
        json={"script": {"source": "ctx._source.tenant = params.t", "params": {"t": "globex"}}},
    )
    assert updated.json()["updated"] == 1, updated.text
    assert search_ids(client, index, {"term": {"tenant": "globex"}}) == ["a1"]


def test_stop_is_clean_and_data_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "search"
    node = SearchNode(data_dir=data_dir, scripts=False).start()
    with httpx.Client(base_url=node.url, timeout=30) as c:
        create_index(c, "kept")
        index_doc(c, "kept", "a1", refresh=True)
    pid = node.pid
    assert pid is not None
    assert node.stop() == 143  # SIGTERM answered by the JVM's own exit, not by SIGKILL
    assert node.stop() is None  # idempotent
    assert not pid_alive(pid)
    assert processes_using(data_dir) == []
    assert (data_dir / "data").is_dir()  # a data dir of our own choosing is kept
    log = (data_dir / "logs" / "opensearch.log").read_text()
    assert "closed" in log.splitlines()[-1]  # the node closed itself on SIGTERM

    with node, httpx.Client(base_url=node.url, timeout=30) as c:  # the same dir, new ports
        assert c.get("/kept/_doc/a1").json()["_source"] == ALERT
        assert search_ids(c, "kept", {"match": {"title": "escape"}}) == ["a1"]


def test_sigkill_then_restart_recovers_acknowledged_docs(tmp_path: Path) -> None:
    node = SearchNode(data_dir=tmp_path / "search", scripts=False)
    try:
        node.start()
        with httpx.Client(base_url=node.url, timeout=30) as c:
            create_index(c, "crash")
            index_doc(c, "crash", "a1", refresh=False)  # acknowledged, never refreshed or flushed
        pid = node.pid
        assert pid is not None
        assert node.kill() == -signal.SIGKILL
        assert not pid_alive(pid)
        node.start()  # returns once green: the shard has recovered from its translog
        with httpx.Client(base_url=node.url, timeout=30) as c:
            assert c.get("/crash/_doc/a1").json()["found"] is True
            assert search_ids(c, "crash", {"term": {"tenant": "acme"}}) == ["a1"]
    finally:
        node.stop()


def test_without_data_dir_a_temporary_one_is_removed_by_stop() -> None:
    node = SearchNode(scripts=False)
    with node:
        data_dir = node.data_dir
        pid = node.pid
        assert data_dir is not None
        assert pid is not None
        assert (data_dir / "data").is_dir()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert f"-Djava.io.tmpdir={data_dir / 'tmp'}".encode() in cmdline
        assert b"-Xmx512m" in cmdline
        # Without scripts, Painless is left out.
        script = {"script": {"lang": "painless", "source": "1 + 1"}}
        scripted = httpx.post(f"{node.url}/_scripts/two", json=script)
        assert scripted.status_code == 400
        assert "unsupported lang [painless]" in scripted.text
    assert not data_dir.exists()
    assert not pid_alive(pid)


def test_run_search_node_forever_returns_on_sigint(tmp_path: Path) -> None:
    seen: list[SearchNode] = []

    def on_ready(node: SearchNode) -> None:
        assert httpx.get(node.url).status_code == 200
        seen.append(node)
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C would

    previous = signal.getsignal(signal.SIGINT)
    run_search_node_forever(data_dir=tmp_path / "search", on_ready=on_ready)
    assert len(seen) == 1
    assert not seen[0].is_running()
    assert signal.getsignal(signal.SIGINT) is previous


def test_the_cli_serves_under_data_dir_and_its_jvm_dies_with_it(tmp_path: Path) -> None:
    """`fenghuo search-node` prints the URL and keeps the node in <data dir>/search; SIGKILL of
    the command (no finalizer runs) still ends the JVM, through the kernel's parent-death
    signal."""
    cli = Path(sys.executable).with_name("fenghuo")
    env = {**os.environ, "FENGHUO_DATA_DIR": str(tmp_path)}
    errors = (tmp_path / "cli.err").open("wb")
    parent = subprocess.Popen(
        [str(cli), "search-node", "--port", "0"], stdout=subprocess.PIPE, stderr=errors, env=env
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().decode()
        errors.close()
        assert line.startswith("search node ready on http://127.0.0.1:"), (
            line + (tmp_path / "cli.err").read_text()
        )
        url = line.split()[4]
        assert httpx.get(url).json()["cluster_name"] == "fenghuo"
        jvms = processes_using(tmp_path / "search")
        assert len(jvms) == 1
    finally:
        parent.kill()  # SIGKILL: no finalizer or atexit runs in the parent
        parent.wait()
    deadline = time.monotonic() + 30
    while pid_alive(jvms[0]) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval
    assert not pid_alive(jvms[0])


def test_a_malformed_heap_is_refused_before_any_jvm(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="heap 'lots' is not a JVM size"):
        SearchNode(heap="lots")
    monkeypatch.setenv("FENGHUO_SEARCH_HEAP", "lots")
    with pytest.raises(ValidationError, match="search_heap"):
        Settings()
    monkeypatch.setenv("FENGHUO_SEARCH_HEAP", "1g")
    assert Settings().search_heap == "1g"


@pytest.mark.parametrize(
    ("heap", "reason"),
    [
        ("900000g", "Could not reserve enough space"),  # the JVM refuses the heap at once
        ("16m", "OutOfMemoryError"),  # too small for the node: it exits instead of limping on
    ],
)
def test_a_heap_the_node_cannot_run_with_is_a_clear_error(heap: str, reason: str) -> None:
    node = SearchNode(heap=heap, ready_timeout=120)
    with pytest.raises(SearchNodeError, match=f"(?s)exited with [0-9]+ on start.*{reason}"):
        node.start()
    assert not node.is_running()
    assert node.data_dir is None  # its temporary data dir is gone


def test_a_port_taken_after_the_probe_is_retried_with_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The transport port is taken between its probe and the node's bind (here on purpose): the
    node exits on the bind error and start() tries fresh ports."""
    real_free_port = search_node_module.free_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        first_http = real_free_port()
        picks = iter([first_http, taken])  # the first try's HTTP and transport ports
        given: list[int] = []

        def free_port() -> int:
            given.append(next(picks, None) or real_free_port())
            return given[-1]

        monkeypatch.setattr(search_node_module, "free_port", free_port)
        with SearchNode(scripts=False) as node:
            assert httpx.get(node.url).status_code == 200
            assert len(given) == 4  # two tries, two ports each
            assert node.data_dir is not None
            log = (node.data_dir / "logs" / "opensearch.log").read_text()
            assert f"Failed to bind to 127.0.0.1:{taken}" in log  # why the first try ended
            assert node.http_port == given[2] != first_http


def test_taken_port_is_an_error(search_node: SearchNode) -> None:
    other = SearchNode(http_port=search_node.http_port, ready_timeout=5)
    with pytest.raises(SearchNodeError, match="already in use"):
        other.start()
    assert not other.is_running()
    assert search_node.is_running()


def test_unstarted_node_has_no_url() -> None:
    with pytest.raises(SearchNodeError, match="not started"):
        _ = SearchNode().url
