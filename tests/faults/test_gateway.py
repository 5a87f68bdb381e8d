"""The HTTP ingest gateway on the three-broker cluster (the real FastAPI app served by uvicorn).

- One broker killed with SIGKILL while three senders upload the simulated hour's flow logs in
  bodies of 500 records: every record answered 202 is in the topics exactly once, and senders
  that retry after a 503 (as Retry-After tells them) end with everything delivered. The gateway
  runs with the production delivery timeout (10 s), which a leader change fits in.
- Two brokers killed (every partition's ISR down to one replica, below min.insync.replicas=2):
  every upload is answered 503 with Retry-After within the delivery timeout, never 202; once the
  brokers are back the same uploads are accepted and none is lost.

The gateway publishes each request in one Kafka transaction, and the read-back reads committed
records only: a 503 means "nothing of this request is visible", so a sender's resend after a 503
cannot store a record twice. Every count line must say duplicated=0.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from fenghuo.ingest.kafka.topics import Topics
from fenghuo.inventory import InventoryStore
from tests.api.conftest import Gateway, running_gateway
from tests.faults.support import Tally, ids_in, ids_of_lines
from tests.kafka_cluster import KafkaCluster
from tests.streaming.support import poll

pytestmark = pytest.mark.kafka_cluster

VICTIM = 3
BODY_RECORDS = 500
SENDERS = 3
PRODUCTION_TIMEOUT_S = 10.0  # Settings.kafka_timeout_s's default


@dataclass
class Upload:
    body: bytes
    ids: Counter[str]


@dataclass
class Outcome:
    """What the senders saw, shared between their threads (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: int = 0  # records the gateway answered 202 for
    answered_202: int = 0
    answered_503: int = 0
    other: list[str] = field(default_factory=list)
    slowest_s: float = 0.0
    resent: int = 0  # bodies sent again after a 503


def uploads(flows: Path, inventory: Path) -> list[Upload]:
    """The flow log cut into bodies of BODY_RECORDS records, each with the header line."""
    header, *records = flows.read_text(encoding="utf-8").splitlines()
    out = []
    for start in range(0, len(records), BODY_RECORDS):
        lines = [header, *records[start : start + BODY_RECORDS]]
        out.append(
            Upload("\n".join(lines).encode() + b"\n", ids_of_lines("vpcflow", lines, inventory))
        )
    return out


def send(gateway: Gateway, upload: Upload, outcome: Outcome, stop: threading.Event) -> None:
    """POST one body until it is answered 202, waiting as Retry-After says after a 503."""
    refused = False
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        while not stop.is_set():
            began = time.monotonic()
            response = client.post(
                "/api/v1/ingest/vpcflow", content=upload.body, headers=gateway.auth()
            )
            took = time.monotonic() - began
            with outcome.lock:
                outcome.slowest_s = max(outcome.slowest_s, took)
                if response.status_code == 202:
                    outcome.answered_202 += 1
                    outcome.accepted += response.json()["accepted"]
                    return
                if response.status_code != 503:
                    outcome.other.append(f"{response.status_code} {response.text[:200]}")
                    return
                if not refused:
                    outcome.resent += 1
                refused = True
                outcome.answered_503 += 1
            stop.wait(float(response.headers["retry-after"]))


@pytest.mark.parametrize("victim_role", ["partition leader", "follower only"])
def test_gateway_uploads_lose_and_duplicate_nothing_when_a_broker_dies(
    cluster: KafkaCluster,
    cluster_topics: Topics,
    simulated: Path,
    tmp_path: Path,
    report: Callable[[str], None],
    victim_role: str,
) -> None:
    topics = cluster_topics
    if victim_role == "follower only":
        cluster.bounce(VICTIM, topics.all())
        assert VICTIM not in cluster.leaders(topics.all()).values()
    else:
        assert VICTIM in cluster.leaders([topics.network]).values()
    inventory = simulated / "inventory.yaml"
    work = uploads(simulated / "vpcflow" / "flows.log", inventory)
    expected = sum((u.ids for u in work), Counter[str]())
    before_kill = len(work) * 3 // 4
    outcome = Outcome()
    killed, stop = threading.Event(), threading.Event()

    def sender(share: Sequence[tuple[int, Upload]]) -> None:
        for index, upload in share:
            if index >= before_kill:
                killed.wait(120)  # the last quarter only once the broker is dead
            send(gateway, upload, outcome, stop)

    with running_gateway(
        tmp_path,
        cluster.bootstrap,
        topics,
        inventory=InventoryStore(inventory),
        kafka_timeout_s=PRODUCTION_TIMEOUT_S,
    ) as gateway:
        numbered = list(enumerate(work))
        threads = [
            threading.Thread(target=sender, args=(numbered[i::SENDERS],), daemon=True)
            for i in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        try:
            poll(
                "a quarter of the uploads",
                lambda: outcome.answered_202,
                lambda n: n >= len(work) // 4,
                60,
            )
            cluster.kill(VICTIM)
            killed.set()
            for thread in threads:
                thread.join(180)
        finally:
            stop.set()
            killed.set()
    assert not any(t.is_alive() for t in threads), "a sender did not finish"
    cluster.restart(VICTIM)
    cluster.wait_isr_full(topics.all())
    tally = Tally(outcome.accepted, expected, ids_in(cluster.bootstrap, topics.telemetry()))
    line = tally.line(
        f"gateway, {victim_role} killed",
        uploads=len(work),
        answered_503=outcome.answered_503,
        resent=outcome.resent,
        slowest_s=f"{outcome.slowest_s:.1f}",
    )
    report(line)
    assert outcome.other == [], line
    assert outcome.answered_202 == len(work), line
    assert outcome.accepted == sum(expected.values()), line
    assert tally.lost == 0, line
    assert tally.duplicated == 0, line  # resends after a 503 included


def test_with_two_brokers_down_the_gateway_answers_503_never_202(
    cluster: KafkaCluster,
    cluster_topics: Topics,
    simulated: Path,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    topics = cluster_topics
    inventory = simulated / "inventory.yaml"
    bodies = uploads(simulated / "vpcflow" / "flows.log", inventory)[:6]
    # Two bodies before the outage, so that both of the gateway's producers hold a producer id
    # and the outage hits transactions in flight, not only producer start-up.
    warm_up, work = bodies[4:], bodies[:4]
    expected = sum((u.ids for u in [*warm_up, *work]), Counter[str]())
    timeout_s = 3.0  # the gateway's delivery timeout here (production: 10 s)
    answers: list[tuple[int, str | None, float, str]] = []
    outcome = Outcome()
    with running_gateway(
        tmp_path,
        cluster.bootstrap,
        topics,
        inventory=InventoryStore(inventory),
        kafka_timeout_s=timeout_s,
    ) as gateway:
        stop = threading.Event()
        for upload in warm_up:
            send(gateway, upload, outcome, stop)
        assert (outcome.answered_202, outcome.answered_503) == (len(warm_up), 0)
        cluster.kill(2)
        cluster.kill(3)
        cluster.wait_isr(
            "every ISR down to node 1",
            lambda parts: all(isr <= {1} for _leader, isr, _replicas in parts.values()),
            topics.all(),
        )
        for upload in work:
            began = time.monotonic()
            response = gateway.client.post(
                "/api/v1/ingest/vpcflow", content=upload.body, headers=gateway.auth()
            )
            detail = str(response.json().get("detail", ""))
            answers.append(
                (
                    response.status_code,
                    response.headers.get("retry-after"),
                    time.monotonic() - began,
                    detail,
                )
            )
        cluster.restart(2)
        cluster.restart(3)
        cluster.wait_isr_full(topics.all())
        for upload in work:  # the sender's retries, once the brokers are back
            send(gateway, upload, outcome, stop)
    tally = Tally(outcome.accepted, expected, ids_in(cluster.bootstrap, topics.telemetry()))
    codes = Counter(code for code, _retry, _took, _detail in answers)
    slowest = max(took for _code, _retry, took, _detail in answers)
    line = tally.line(
        "gateway, two brokers killed then back",
        answered_during_outage=dict(codes),
        slowest_503_s=f"{slowest:.1f}",
    )
    report(line)
    report(f"first 503 detail: {answers[0][3][:300]}")
    report(f"last 503 detail: {answers[-1][3][:300]}")
    assert codes == {503: len(work)}, line
    assert all(retry == "5" for _code, retry, _took, _detail in answers), answers
    # Answered within the publish deadline (delivery timeout + 2 s), not left hanging.
    assert slowest < timeout_s + 4, line
    assert outcome.answered_202 == len(warm_up) + len(work), line
    assert outcome.answered_503 == 0, line
    assert tally.lost == 0, line
    assert tally.duplicated == 0, line  # every upload was sent twice: refused, then accepted
    assert tally.found == expected, line
