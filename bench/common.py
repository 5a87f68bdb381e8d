"""What the ingest benchmarks share: machine facts, process resources, read-back checks, tables."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import statistics
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

from fenghuo.ingest.kafka.consume import count_messages, read_messages
from fenghuo.ingest.kafka.producer import OutMessage
from fenghuo.ingest.pipeline import MessageSink


def machine() -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram_gib": f"{mem_kb / 1024 / 1024:.1f}",
        "python": platform.python_version(),
        "loadavg": load_average(),
        "kernel": platform.release(),
        "msgspec": version("msgspec"),
        "confluent-kafka": version("confluent-kafka"),
        "fastapi": version("fastapi"),
        "uvicorn": version("uvicorn"),
        "httpx": version("httpx"),
    }


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (getrusage; KiB on Linux).

    On Linux a child inherits its parent's high-water mark at fork + exec, so this is only the
    child's own peak when it was started by a lean parent (see `hwm_mb`).
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def current_rss_mb() -> float:
    return _status_mb("VmRSS:")


def hwm_mb() -> float:
    """Peak RSS of this process's address space since exec (VmHWM): a cross-check."""
    return _status_mb("VmHWM:")


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads (librdkafka's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu(pid: int | None) -> float:
    """User + system CPU seconds of another process (the broker), from /proc."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the samples."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


class RecordingSink:
    """Wraps the Publisher: what it acknowledged, per topic, as bytes and content fingerprints.

    The fingerprints (Python's hash of each value, per topic) let the read-back prove that every
    acknowledged message is on the broker exactly once, not only that the counts agree.
    """

    def __init__(self, inner: MessageSink) -> None:
        self.inner = inner
        self.bytes = 0
        self.sent: dict[str, Counter[int]] = {}
        self._lock = threading.Lock()

    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int:
        batch = list(messages)
        acked = self.inner.publish(batch, timeout)
        size = 0
        with self._lock:
            for m in batch:
                size += len(m.value or b"") + len(m.key or b"")
                self.sent.setdefault(m.topic, Counter())[hash(m.value)] += 1
            self.bytes += size
        return acked

    def counts(self) -> dict[str, int]:
        return {topic: sum(c.values()) for topic, c in self.sent.items()}


class LostMessagesError(AssertionError):
    """The broker does not hold exactly what was acknowledged."""


def verify_exactly_once(
    bootstrap: str, sent: dict[str, Counter[int]], empty: Iterable[str] = (), timeout: float = 60
) -> dict[str, int]:
    """Read every topic back: its messages must be exactly the acknowledged ones.

    `read_messages` reads as many as were acknowledged (a loss times out) and their fingerprints
    must match one for one; then `count_messages` counts each topic to its end offsets (all
    topics in parallel) so that a duplicate past the expected count is caught too. Topics in
    `empty` (the dead-letter topic) must hold nothing. Returns the counts found.
    """
    for topic, expected in sent.items():
        got = read_messages(bootstrap, topic, sum(expected.values()), timeout)
        found = Counter(hash(m.value) for m in got)
        if found != expected:
            missing = sum((expected - found).values())
            extra = sum((found - expected).values())
            msg = f"{topic}: {missing} acknowledged messages missing, {extra} unexpected"
            raise LostMessagesError(msg)
    topics = [*sent, *empty]
    with ThreadPoolExecutor(max_workers=max(1, len(topics))) as pool:
        counts = pool.map(lambda t: count_messages(bootstrap, t), topics)
        counted = dict(zip(topics, counts, strict=True))
    for topic in topics:
        want = sum(sent[topic].values()) if topic in sent else 0
        if counted[topic] != want:
            msg = f"{topic}: {counted[topic]} messages on the broker, {want} acknowledged"
            raise LostMessagesError(msg)
    return counted


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (also readable on a terminal)."""
    text_rows = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text_rows)]) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in text_rows
    ]
    return "\n".join(lines)


def k(value: float) -> str:
    """12345.6 -> '12.3k'."""
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"
