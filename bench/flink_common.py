"""What the stream-job benchmarks share: the mini-cluster's REST metrics and process CPU."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from typing import Any

LOCK = "/tmp/fenghuo-bench.lock"  # shared CPU: the other engineers avoid heavy runs meanwhile


def rest(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)


def _names(metric_id: str, name: str) -> set[str]:
    """The operator names in a metric id `<subtask>.<operator>.<name>`; PyFlink fuses chained
    Python functions into one operator named like `route___stream_key_by_map_operator`."""
    subtask_and_operator, _, metric = metric_id.rpartition(".")
    if metric != name:
        return set()
    return set(re.split(r"_+", subtask_and_operator.partition(".")[2]))


def operator_metric(port: int, job: str, operator: str, name: str) -> int:
    """The sum over subtasks of a user counter of the Python operator named `operator`."""
    total = 0
    for vertex in rest(port, f"/jobs/{job}")["vertices"]:
        base = f"/jobs/{job}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in rest(port, base) if operator in _names(m["id"], name)]
        if ids:
            total += sum(int(float(m["value"])) for m in rest(port, f"{base}?get={','.join(ids)}"))
    return total


def input_watermark(port: int, job: str, vertex_name: str) -> int | None:
    """The lowest `currentInputWatermark` (epoch ms) over the subtasks of the first vertex whose
    name contains `vertex_name`; None before any watermark arrived."""
    for vertex in rest(port, f"/jobs/{job}")["vertices"]:
        if vertex_name not in vertex["name"]:
            continue
        metrics = rest(port, f"/jobs/{job}/vertices/{vertex['id']}/watermarks")
        values = [int(float(m["value"])) for m in metrics]
        if not values or min(values) < 0:  # Long.MIN_VALUE: nothing yet
            return None
        return min(values)
    return None


def all_running(port: int, job: str) -> bool:
    try:
        vertices = rest(port, f"/jobs/{job}")["vertices"]
    except OSError:
        return False
    return bool(vertices) and all(v["status"] == "RUNNING" for v in vertices)


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, from /proc; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and every living descendant (the JVM PyFlink launched, and in
    process mode the Python workers the JVM launched)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def proc_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    stat = _stat(pid)
    return stat[1] if stat is not None else 0.0


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(seconds: float = 5.0) -> float:
    """How many cores were busy (all processes) over the next `seconds`."""
    busy0, total0 = _cpu_ticks()
    time.sleep(seconds)
    busy1, total1 = _cpu_ticks()
    cores = os.cpu_count() or 1
    return cores * (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(limit: float = 1.0, patience: float = 45.0, busy_limit: float = 0.3) -> str:
    """Before a measurement: wait while the 1-minute load average is above `limit`, at most
    `patience` s; then start if the machine is idle now (under `busy_limit` cores busy over
    5 s), since a load average just above the limit may only be the previous run's tail.
    Waits on (up to 10 min) while something else keeps the CPU busy. Returns what was seen."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] > limit and time.monotonic() < deadline:
        time.sleep(10)
    hard = time.monotonic() + 600
    while True:
        load = loadavg()
        busy = busy_cores()
        if busy <= busy_limit or time.monotonic() > hard:
            return f"load {load}, {busy:.2f} cores busy"
        print(f"load {load}, {busy:.2f} cores busy: waiting", flush=True)
        time.sleep(20)
