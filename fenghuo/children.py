"""Child processes that must not outlive Fenghuo (the embedded broker, the local stream job)."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

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
