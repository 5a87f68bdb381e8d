"""Child processes that must not outlive Fenghuo (the embedded broker, the local stream job),
and the signals that stop the long-running commands."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None]:
    """A `preexec_fn` that, on Linux, has the kernel send `sig` to the child when its parent
    dies (even by SIGKILL, which no finalizer survives). The signal follows the thread that
    started the child, so start children from a long-lived thread (the main one)."""

    def _arm() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return _arm


def stop_child(
    proc: subprocess.Popen[Any],
    timeout: float,
    *,
    sig: signal.Signals = signal.SIGTERM,
    group: bool = False,
) -> int:
    """Stop a child with `sig` (SIGTERM for the Kafka broker; SIGINT for the stream job, which
    cancels its Flink job on it), then SIGKILL after `timeout` seconds (to its whole process group
    with `group`: the stream job's JVM is a grandchild). Returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs; the previous handlers come back
    afterwards. For the long-running commands (broker, stream, up), from the main thread."""
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
