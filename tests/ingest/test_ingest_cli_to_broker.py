"""`fenghuo ingest` publishes a mixed file set to the embedded broker: exactly the expected
events per topic, with the contract's keys, and every bad record on the dead-letter topic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import count_messages, read_messages
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.model import decode_event
from tests.fixtures_ingest import BAD_COUNTS, FileSet

pytestmark = pytest.mark.kafka

# Sample facts known independently of the parsers (records in the files).
KNOWN_COUNTS = {"vpcflow": 7, "libvirt-events": 6, "falco": 2, "cloudtrail": 51}
# The one unparseable record among the samples: `type=UNKNOWN[1329] msg=?` in the RHEL 7 log.
SAMPLE_RECORD_ERRORS = 1


def _fenghuo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("fenghuo")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def assert_topics_hold(bootstrap: str, topics: Topics, mixed_files: FileSet) -> None:
    default = Topics()
    for name in ("hypervisor", "tenant", "network"):
        expected = mixed_files.per_topic[getattr(default, name)]
        topic = getattr(topics, name)
        messages = read_messages(bootstrap, topic, expected, timeout=30)
        events = [decode_event(m.value or b"") for m in messages]
        # Exactly the expected events: none lost, none duplicated, none foreign.
        assert Counter(e.id for e in events) == mixed_files.ids_per_topic[getattr(default, name)]
        for message, event in zip(messages, events, strict=True):
            key = (message.key or b"").decode()
            if name == "hypervisor":
                assert key == (event.host_id or "_unknown-host")
            else:
                assert key == (event.tenant_id or "_unattributed")
        # Nothing more than expected: everything was acknowledged before we read.
        assert count_messages(bootstrap, topic) == expected
    letters = read_messages(bootstrap, topics.dlq, mixed_files.dead_letters, timeout=30)
    reasons = [json.loads(m.value or b"{}") for m in letters]
    assert all(r["reason"] and r["raw"] and r["format"] for r in reasons)
    assert count_messages(bootstrap, topics.dlq) == mixed_files.dead_letters


def test_mixed_file_set_through_cli(
    broker: KafkaBroker, topics: Topics, mixed_files: FileSet, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
        "FENGHUO_DATA_DIR": str(tmp_path / "var"),
    }
    # One run per format and host, several paths each, as an operator would call it.
    groups: dict[tuple[str, str | None, bool], list[Path]] = {}
    for fmt, path, host in mixed_files.files:
        groups.setdefault((fmt, host, path.name.startswith("bad-")), []).append(path)
    published = dead = 0
    per_format: dict[str, int] = {}
    for (fmt, host, bad), paths in groups.items():
        args = ["ingest", "--format", fmt, "--inventory", str(demo_inventory_path())]
        args += ["--bootstrap", broker.bootstrap, *(["--host", host] if host else [])]
        result = _fenghuo(*args, *map(str, paths), env=env)
        assert result.returncode == 0, result.stderr
        summary = result.stdout.strip().splitlines()[-1]
        # "FORMAT: read N lines, published N events, dead-lettered N records"
        words = summary.split()
        count = int(words[words.index("published") + 1])
        published += count
        dead += int(words[words.index("dead-lettered") + 1])
        if not bad:
            per_format[fmt] = per_format.get(fmt, 0) + count
    for fmt, count in KNOWN_COUNTS.items():
        assert per_format[fmt] == count, fmt
    assert dead == mixed_files.dead_letters == sum(BAD_COUNTS.values()) + SAMPLE_RECORD_ERRORS
    assert published == sum(mixed_files.per_topic.values())
    assert_topics_hold(broker.bootstrap, topics, mixed_files)


def test_ingest_reports_broker_down_without_claiming(tmp_path: Path) -> None:
    from fenghuo.ingest.kafka.broker import free_port

    sample = tmp_path / "flows.log"
    sample.write_text(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
        "start end action log-status\n"
        "2 111111111111 eni-0acme0001 10.1.0.11 10.1.0.12 49152 5432 6 20 4249 "
        "1767607200 1767607260 ACCEPT OK\n"
    )
    env = {**os.environ, "FENGHUO_KAFKA_TIMEOUT_S": "3", "FENGHUO_DATA_DIR": str(tmp_path)}
    result = _fenghuo(
        "ingest",
        "--format",
        "vpcflow",
        "--inventory",
        str(demo_inventory_path()),
        "--bootstrap",
        f"127.0.0.1:{free_port()}",
        str(sample),
        env=env,
    )
    assert result.returncode == 1
    assert "published 0 events" in result.stderr
