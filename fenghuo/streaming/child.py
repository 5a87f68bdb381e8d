"""`fenghuo stream` as a child of `fenghuo up`: the detection job on the local mini-cluster,
in its own process (PyFlink owns a JVM and its signal handling), logging to a file.

The child runs in its own session so that Ctrl-C reaches `fenghuo up` first; `stop()` then sends
SIGINT, which cancels the job (its last checkpoint stays), and kills the whole process group
(the JVM included) only as a last resort. If `fenghuo up` dies, the kernel sends SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO

from fenghuo.children import die_with_parent, stop_child
from fenghuo.errors import StreamJobError

READY_MARK = "running on the local mini-cluster"


def fenghuo_command() -> list[str]:
    """This installation's `fenghuo` command (the console script beside this interpreter)."""
    script = Path(sys.executable).with_name("fenghuo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fenghuo"]


class StreamJobProcess:
    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.env = env
        self.job_line = ""
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._tail: deque[str] = deque(maxlen=30)
        self._pump: threading.Thread | None = None

    def start(self, timeout: float = 180.0) -> str:
        """Start the job and wait until Flink reports it running; returns that line."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [*fenghuo_command(), "stream", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        self._pump = threading.Thread(
            target=self._copy_output, args=(self._proc.stdout,), name="fenghuo-stream-log"
        )
        self._pump.start()
        if not self._ready.wait(timeout):
            self.stop()
            msg = f"the stream job did not start within {timeout:.0f} s:\n{self.tail()}"
            raise StreamJobError(msg)
        if not self.running:
            msg = f"the stream job exited during start-up:\n{self.tail()}"
            raise StreamJobError(msg)
        return self.job_line

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def tail(self) -> str:
        return "\n".join(self._tail)

    def stop(self, timeout: float = 60.0) -> int | None:
        """Cancel the job and wait for the process; returns its exit code."""
        proc = self._proc
        if proc is None:
            return None
        code = stop_child(proc, timeout, sig=signal.SIGINT, group=True)
        if self._pump is not None:
            self._pump.join(timeout=10)
        return code

    def _copy_output(self, stream: IO[str] | None) -> None:
        assert stream is not None
        with self.log_path.open("a", encoding="utf-8") as log, stream:
            for line in stream:
                log.write(line)
                log.flush()
                self._tail.append(line.rstrip("\n"))
                if not self._ready.is_set() and READY_MARK in line:
                    self.job_line = line.strip()
                    self._ready.set()
        self._ready.set()  # the process ended: whoever waits must not wait any longer
