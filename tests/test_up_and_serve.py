"""`fenghuo up` and `fenghuo serve` as an operator runs them: subprocesses on free loopback
ports, driven over HTTP, stopped with SIGINT, leaving nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.ingest.kafka.broker import EmbeddedBroker, free_port
from fenghuo.ingest.kafka.consume import read_messages
from fenghuo.ingest.kafka.topics import Topics

pytestmark = pytest.mark.kafka

FLOW = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "2 111111111111 eni-0acme0001 10.1.0.11 10.1.0.12 49152 5432 6 20 4249 "
    "1767607200 1767607260 ACCEPT OK\n"
)


@contextmanager
def running(
    args: list[str], env: dict[str, str], ready: str
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    exe = Path(sys.executable).with_name("fenghuo")
    proc = subprocess.Popen(
        [str(exe), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 90
        for line in proc.stdout:  # blocks per line; the process prints as it starts
            lines.append(line.rstrip("\n"))
            if ready in line or time.monotonic() > deadline:
                break
        assert any(ready in line for line in lines), "\n".join(lines)
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "FENGHUO_DATA_DIR": str(tmp_path / "var"), **extra}


def test_up_starts_everything_ingests_samples_and_stops_cleanly(
    tmp_path: Path, samples: Path
) -> None:
    broker_port, api_port = free_port(), free_port()
    env = _env(
        tmp_path,
        FENGHUO_EMBEDDED_BROKER_PORT=str(broker_port),
        FENGHUO_API_PORT=str(api_port),
    )
    with running(["up", "--samples", str(samples)], env, "running; Ctrl-C") as (proc, lines):
        output = "\n".join(lines)
        assert f"127.0.0.1:{broker_port}" in output
        ingested = [line for line in lines if line.startswith("ingested")]
        assert len(ingested) == 17  # every shared sample file
        token = next(line.split()[2] for line in lines if line.startswith("ingest key"))
        url = f"http://127.0.0.1:{api_port}"
        response = httpx.post(
            f"{url}/api/v1/ingest/vpcflow",
            content=FLOW,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 202
        assert response.json()["accepted"] == 1
        assert httpx.get(f"{url}/readyz", timeout=10).json()["broker"] is True
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    # Nothing left listening on either port.
    for port in (broker_port, api_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_serve_against_a_running_broker(
    broker: EmbeddedBroker, topics: Topics, tmp_path: Path
) -> None:
    api_port = free_port()
    env = _env(tmp_path, FENGHUO_TOPIC_PREFIX=topics.prefix)
    exe = Path(sys.executable).with_name("fenghuo")
    created = subprocess.run(
        [str(exe), "keys", "create", "--role", "ingest", "--name", "serve-test"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    args = ["serve", "--port", str(api_port), "--bootstrap", broker.bootstrap]
    args += ["--inventory", str(demo_inventory_path())]
    with running(args, env, "API on") as (proc, _lines):
        response = httpx.post(
            f"http://127.0.0.1:{api_port}/api/v1/ingest/vpcflow",
            content=FLOW,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 202
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    (message,) = read_messages(broker.bootstrap, topics.network, 1, timeout=20)
    assert message.key == b"acme"
