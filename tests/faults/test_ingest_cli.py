"""A broker killed with SIGKILL while `fenghuo ingest` publishes the simulated hour's flow logs:
after it returns, every event ingest reported published is in the topics exactly once by id.

The file goes to the command's stdin (`-`), three quarters at once and the rest only once the
broker is dead, so the kill lands in the middle of the run: batches acknowledged before it,
batches published through it. Two victims: a broker leading partitions of the topic (its
leadership moves to an in-sync follower) and one leading none (it only leaves the ISR). The
command runs with the production settings (a 10 s delivery timeout): it must succeed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fenghuo.ingest.kafka.consume import count_messages
from fenghuo.ingest.kafka.topics import Topics
from tests.faults.support import Tally, Watermarks, expected_ids, ids_in
from tests.kafka_cluster import KafkaCluster
from tests.streaming.support import poll

pytestmark = pytest.mark.kafka_cluster

VICTIM = 3


@pytest.mark.parametrize("victim_role", ["partition leader", "follower only"])
def test_ingest_loses_and_duplicates_nothing_when_a_broker_dies(
    cluster: KafkaCluster,
    cluster_topics: Topics,
    simulated: Path,
    tmp_path: Path,
    report: Callable[[str], None],
    victim_role: str,
) -> None:
    topics = cluster_topics
    if victim_role == "follower only":
        cluster.bounce(VICTIM, topics.all())  # back as a follower of every partition
        assert VICTIM not in cluster.leaders(topics.all()).values()
    else:
        assert VICTIM in cluster.leaders([topics.network]).values()
    flows = simulated / "vpcflow" / "flows.log"
    inventory = simulated / "inventory.yaml"
    expected = expected_ids("vpcflow", flows, inventory)
    lines = flows.read_text(encoding="utf-8").splitlines(keepends=True)
    held_back = len(lines) // 4
    env = {
        **os.environ,
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
        "FENGHUO_DATA_DIR": str(tmp_path / "var"),
    }
    command = [str(Path(sys.executable).with_name("fenghuo")), "ingest", "--format", "vpcflow"]
    command += ["--inventory", str(inventory), "--bootstrap", cluster.bootstrap, "-"]
    killed = threading.Event()
    with (tmp_path / "out.txt").open("w+") as out, (tmp_path / "err.txt").open("w+") as err:
        ingest = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=out, stderr=err, text=True, env=env
        )
        assert ingest.stdin is not None
        stdin = ingest.stdin

        def feed() -> None:
            stdin.writelines(lines[:-held_back])
            stdin.flush()
            killed.wait(120)
            stdin.writelines(lines[-held_back:])
            stdin.close()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        marks = Watermarks(cluster.bootstrap, [topics.network])
        try:
            # Two batches (2,000 events each) acknowledged: the run is well under way.
            poll("ingest's first batches", marks.total, lambda n: n >= 4000, timeout=60)
        finally:
            marks.close()
        assert ingest.poll() is None, "ingest ended before the kill"
        cluster.kill(VICTIM)
        killed_at = time.monotonic()
        killed.set()
        code = ingest.wait(120)
        ride = time.monotonic() - killed_at
        feeder.join(10)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert code == 0, stderr[-3000:]
    # "vpcflow: read N lines, published N events, dead-lettered N records"
    words = stdout.strip().splitlines()[-1].split()
    published = int(words[words.index("published") + 1])

    cluster.restart(VICTIM)
    cluster.wait_isr_full(topics.all())
    tally = Tally(published, expected, ids_in(cluster.bootstrap, topics.telemetry()))
    line = tally.line(f"ingest, {victim_role} killed", seconds_from_kill_to_exit=f"{ride:.1f}")
    report(line)
    assert published == sum(expected.values()), line
    assert (tally.lost, tally.duplicated) == (0, 0), line
    assert tally.found == expected, line
    assert count_messages(cluster.bootstrap, topics.dlq) == 0, line
