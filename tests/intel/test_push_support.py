"""Helpers of the push tests (no tests here): STIX object versions to push, a list-backed
`ObjectRepository`, a real medallion (the OASIS TAXII 2.1 reference server, memory backend) in a
subprocess on a free loopback port, and a loopback TCP proxy that can cut the link and fail
POSTs after they reached the server.

medallion runs as a subprocess (an independent peer, its own interpreter and global Flask app)
with one extra route, `/_raw/<api root>/<collection>/`, listing the (id, version) pairs its
memory backend holds: its own read endpoints collapse repeated (id, version) pairs, so they
could not show a duplicate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import requests

from fenghuo.intel.objects import ObjectPage, ObjectQuery, StoredObject

Ref = tuple[str, str]
REMOTE_USER = "regulator"
REMOTE_PASSWORD = "s3cret-for-tests"
REMOTE_COLLECTION = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"
_T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll `condition` until it holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.01)


def stix_versions(ids: int, versions: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """`ids` indicators with `versions` versions each, interleaved in time (v1 of all, v2 ...)."""
    made: list[dict[str, Any]] = []
    names = [uuid.UUID(int=(seed << 64) + i + 1) for i in range(ids)]
    for v in range(versions):
        for i, name in enumerate(names):
            created = _T0 + dt.timedelta(seconds=i)
            modified = created + dt.timedelta(minutes=v, milliseconds=7)
            made.append(
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": f"indicator--{name}",
                    "created": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "modified": modified.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "name": f"indicator {i} version {v}",
                    "pattern": f"[ipv4-addr:value = '10.9.{i % 250}.{v % 250}']",
                    "pattern_type": "stix",
                    "valid_from": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
    return made


def ref_of(obj: dict[str, Any]) -> Ref:
    return (obj["id"], obj.get("modified", obj.get("created", "")))


class ListObjects:
    """A list-backed `ObjectRepository` (only what the pusher reads: `append`, `page` with
    `added_after`), for unit tests that need no SQLite."""

    def __init__(self) -> None:
        self.items: list[StoredObject] = []
        self._clock = _T0

    def append(
        self, collection_id: str, objects: Iterable[dict[str, Any]], *, source: str | None = None
    ) -> list[StoredObject]:
        added: list[StoredObject] = []
        for obj in objects:
            self._clock += dt.timedelta(microseconds=1)
            stored = StoredObject(
                collection_id=collection_id,
                id=obj["id"],
                type=obj["type"],
                version=obj.get("modified", obj.get("created", self._clock.isoformat())),
                date_added=self._clock,
                body=obj,
            )
            self.items.append(stored)
            added.append(stored)
        return added

    def page(
        self,
        collection_id: str,
        query: ObjectQuery = ObjectQuery(),  # noqa: B008 - frozen
        *,
        limit: int,
        cursor: str | None = None,
    ) -> ObjectPage:
        assert query.versions == ("all",)
        assert cursor is None
        after = query.added_after
        found = [
            o
            for o in self.items
            if o.collection_id == collection_id and (after is None or o.date_added > after)
        ]
        return ObjectPage(found[:limit], more=len(found) > limit, next=None)

    def latest(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, StoredObject]:
        raise NotImplementedError

    def delete(self, collection_id: str, query: ObjectQuery) -> int:
        raise NotImplementedError

    def ids_of_source(self, collection_id: str, source: str) -> list[str]:
        raise NotImplementedError

    def sources(self, collection_ids: Sequence[str]) -> set[str]:
        raise NotImplementedError

    def count(self, collection_id: str) -> int:
        return sum(o.collection_id == collection_id for o in self.items)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_RUNNER = """
import json, sys
from flask import jsonify
from medallion import application_instance as app, register_blueprints, set_config

with open(sys.argv[1]) as handle:
    config = json.load(handle)
for part in ("users", "taxii", "backend"):
    set_config(app, part, config)
register_blueprints(app)


@app.route("/_raw/<api_root>/<collection_id>/")
def raw(api_root, collection_id):
    for collection in app.medallion_backend.data[api_root]["collections"]:
        if collection["id"] == collection_id:
            held = [[o["id"], o.get("modified", o.get("created"))] for o in collection["objects"]]
            return jsonify({"objects": held})
    return jsonify({}), 404


app.run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
"""


class Medallion:
    """medallion 3.0.0 with its memory backend: discovery, API root `api1` (with
    `max_content_length`), one readable and writable collection, one user."""

    def __init__(self, workdir: Path, *, max_content_length: int = 64 * 1024) -> None:
        self.port = free_port()
        base = f"http://127.0.0.1:{self.port}"
        data = {
            "/discovery": {
                "title": "Test regulator TAXII server",
                "default": f"{base}/api1/",
                "api_roots": [f"{base}/api1/"],
            },
            "api1": {
                "information": {
                    "title": "Incident reports",
                    "versions": ["application/taxii+json;version=2.1"],
                    "max_content_length": max_content_length,
                },
                "status": [],
                "collections": [
                    {
                        "id": REMOTE_COLLECTION,
                        "title": "Incidents from cloud providers",
                        "can_read": True,
                        "can_write": True,
                        "media_types": ["application/stix+json;version=2.1"],
                        "objects": [],
                        "manifest": [],
                    }
                ],
            },
        }
        (workdir / "medallion-data.json").write_text(json.dumps(data))
        config = {
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": str(workdir / "medallion-data.json"),
            },
            "users": {REMOTE_USER: REMOTE_PASSWORD},
            "taxii": {"max_page_size": 100},
        }
        (workdir / "medallion.json").write_text(json.dumps(config))
        (workdir / "medallion_runner.py").write_text(_RUNNER)
        self._output = (workdir / "medallion.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(workdir / "medallion_runner.py"),
                str(workdir / "medallion.json"),
                str(self.port),
            ],
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        self.base = base
        wait_until(self._ready, timeout=30, what="medallion to answer")

    def collection_url(self, base: str | None = None) -> str:
        return f"{base or self.base}/api1/collections/{REMOTE_COLLECTION}/"

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"medallion exited with {self.process.returncode}")
        with contextlib.suppress(requests.ConnectionError):
            return requests.get(f"{self.base}/_raw/api1/{REMOTE_COLLECTION}/", timeout=2).ok
        return False

    def held(self) -> list[Ref]:
        """Every (id, version) copy the memory backend holds (repeats included)."""
        answer = requests.get(f"{self.base}/_raw/api1/{REMOTE_COLLECTION}/", timeout=10)
        answer.raise_for_status()
        return [(o[0], o[1]) for o in answer.json()["objects"]]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._output.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees 'connection reset', not an orderly end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Link:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.doomed: str | None = None  # "reset" or "502": the response to a POST is not relayed
        self.dead = False
        self.lock = threading.Lock()

    def kill(self, graceful: bool = False) -> None:
        """Reset both sides; `graceful` closes the client side in order (so that an answer
        written to it, the 502, is not thrown away by a reset)."""
        with self.lock:
            if self.dead:
                return
            self.dead = True
        if graceful:
            with contextlib.suppress(OSError):
                self.client.shutdown(socket.SHUT_WR)
                self.client.close()
        else:
            _reset(self.client)
        _reset(self.upstream)


_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class FaultyProxy:
    """A loopback TCP proxy in front of `upstream_port`. `cut()` resets every connection and
    every new one until `restore()`; `cut_after_posts(n)` cuts when the n-th POST from now
    arrives (before it is forwarded); `fail_posts(n, mode)` forwards the next n POSTs, lets the
    server answer, and then resets the client (`"reset"`) or answers 502 (`"502"`) instead of
    relaying the answer: the uncertain outcome."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._cut = False
        self._cut_at: int | None = None
        self._fail: list[str] = []
        self.posts = 0  # POST requests seen from the client
        self.failed_posts = 0  # POSTs whose answer was not relayed
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            links = list(self._links)
        for link in links:
            link.kill()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    @property
    def is_cut(self) -> bool:
        with self._lock:
            return self._cut

    def cut_after_posts(self, count: int) -> None:
        with self._lock:
            self._cut_at = self.posts + count

    def fail_posts(self, count: int, mode: str) -> None:
        assert mode in ("reset", "502")
        with self._lock:
            self._fail += [mode] * count

    def close(self) -> None:
        self._closed.set()
        self.cut()
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.is_cut:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.settimeout(0.1)
            link = _Link(client, upstream)
            with self._lock:
                self._links.add(link)
            self._spawn(self._pump, link, True)
            self._spawn(self._pump, link, False)

    def _pump(self, link: _Link, from_client: bool) -> None:
        source, sink = (link.client, link.upstream) if from_client else (link.upstream, link.client)
        try:
            while not link.dead and not self._closed.is_set():
                try:
                    chunk = source.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                if from_client and chunk.startswith(b"POST "):
                    if self._on_post(link):
                        break
                elif not from_client and link.doomed is not None:
                    # The server has answered the POST: it holds the objects; the client
                    # never learns it.
                    with self._lock:
                        self.failed_posts += 1
                    if link.doomed == "502":
                        with contextlib.suppress(OSError):
                            link.client.sendall(_BAD_GATEWAY)
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            link.kill(graceful=link.doomed == "502")
            with self._lock:
                self._links.discard(link)

    def _on_post(self, link: _Link) -> bool:
        """Count a POST; True when the link is cut instead of forwarding it."""
        with self._lock:
            self.posts += 1
            cut_now = self._cut_at is not None and self.posts >= self._cut_at
            if cut_now:
                self._cut_at = None
            elif self._fail:
                link.doomed = self._fail.pop(0)
        if cut_now:
            self.cut()
        return cut_now


@contextlib.contextmanager
def running(target: Callable[[], Any]) -> Iterator[list[Any]]:
    """Run `target` in a thread; yields a list that gets its result (or exception)."""
    outcome: list[Any] = []

    def main() -> None:
        try:
            outcome.append(target())
        except BaseException as exc:  # noqa: BLE001 - handed to the test through `outcome`
            outcome.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield outcome
    finally:
        thread.join(60)
        assert not thread.is_alive(), "the pusher thread did not end"
