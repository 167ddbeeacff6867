"""Worker processes that die with the process that started them.

The engines fork workers (:mod:`optimizer.engines.decomposed`, :mod:`optimizer.engines.price`).
Killed with ``SIGKILL`` (or by the out-of-memory killer) the main process cannot stop them, and
they ran on, adopted by init. On Linux a child can ask the kernel for a signal when its parent
dies (``prctl(PR_SET_PDEATHSIG)``); :func:`die_with_parent` asks for ``SIGKILL`` and then checks
that the parent has not died already (the request is not retroactive).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> bool:
    """Have the kernel kill this process when its parent dies; True when arranged.

    The worker also ignores ``SIGINT``: the parent handles Ctrl-C.

    Parameters
    ----------
    parent : int, optional
        The parent's pid as the parent saw it before forking (default: the current
        parent); if this process has been re-parented already, it exits at once.
    """
    # Ctrl-C reaches the whole process group: the main process handles it (one line,
    # exit 130) and its workers, which would each print a traceback, die with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:  # pragma: no cover
        log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return False
    if parent is not None and os.getppid() != parent:  # the parent died before we asked
        os._exit(1)
    return True
