"""The instances' CPU priorities, set aside for a measurement without them.

bin/bench runs each spike shape with the pools' nice levels as built
(bin/pool-priority) and again with every instance at nice 0, in the same run:
the difference is then the levels' effect, not the machine's mood. Linux
keeps a nice level per thread, so every thread of every instance is set, and
set back to its own level afterwards. Lowering a level needs root.
"""

import contextlib
import os

from surge.cluster.cpus import threads


def levels(pids):
    """{thread id: nice level} of every thread of PIDS."""
    found = {}
    for thread in threads(pids):
        try:
            found[thread] = os.getpriority(os.PRIO_PROCESS, thread)
        except OSError:
            continue
    return found


def set_levels(found):
    for thread, level in found.items():
        try:
            os.setpriority(os.PRIO_PROCESS, thread, level)
        except ProcessLookupError:
            continue
        except PermissionError:
            raise SystemExit("bench: only root can lower the instances' nice levels for the measurement "
                             "without priorities; run bin/bench as root or with --only builds,web,members") from None


@contextlib.contextmanager
def flattened(pids):
    """Every thread of PIDS at nice 0 inside the block, at its own level again after it."""
    saved = levels(pids)
    set_levels(dict.fromkeys(saved, 0))
    try:
        yield saved
    finally:
        set_levels(saved)
