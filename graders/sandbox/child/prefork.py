"""Making the zygote cheap to fork: its heap frozen out of the garbage collector and backed by huge pages.

Every job forks a process holding torch three times (supervisor, mini-init, runner), and each fork copies the
page tables of the zygote's ~150 MB of anonymous memory (about 37 000 entries of 4 KiB) and tears them down again
at exit. On the 2-core machines this was about a third of a grading's CPU (``perf``: ``copy_page_range`` and
``unmap_page_range`` on top). Two things, done once before the first job:

* ``gc.freeze()`` moves everything the zygote allocated into a generation the collector never visits, so a
  collection in a child does not write to (and so copy) every object's header.
* ``madvise(MADV_COLLAPSE)`` rewrites the heap and the anonymous mappings as 2 MiB pages, so a fork copies one
  entry where it copied 512; a child that writes into one of them splits only that one (Linux 6.1+; elsewhere
  the call fails and nothing changes but the cost).

Neither changes what a job can see or do: the same memory, with the same contents and permissions.
"""

from __future__ import annotations

import ctypes
import gc
from typing import Any

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE = 1 << 21  # 2 MiB


def settle() -> dict[str, Any]:
    """Freeze the collector's view of the heap and collapse the anonymous memory into huge pages. Returns what was
    done, for the ready frame: objects frozen, MiB collapsed, and the first error, if any."""
    gc.collect()
    gc.freeze()
    collapsed, problem = collapse_anonymous()
    return {"frozen_objects": gc.get_freeze_count(), "huge_mib": collapsed >> 20, "huge_problem": problem}


def collapse_anonymous() -> tuple[int, str | None]:
    """``MADV_COLLAPSE`` on the 2 MiB-aligned part of every private writable anonymous mapping (the heap
    included). Returns the bytes collapsed and the first failure (None when every call succeeded)."""
    libc = ctypes.CDLL(None, use_errno=True)
    done, problem = 0, None
    for start, end in _anonymous_mappings():
        first, last = -(-start // HUGE) * HUGE, end // HUGE * HUGE  # whole huge pages inside [start, end)
        if last <= first:
            continue
        address, length = ctypes.c_void_p(first), ctypes.c_size_t(last - first)
        libc.madvise(address, length, MADV_HUGEPAGE)  # also for whatever the region grows into later
        if libc.madvise(address, length, MADV_COLLAPSE) == 0:
            done += last - first
        elif problem is None:
            problem = f"madvise(MADV_COLLAPSE) failed: errno {ctypes.get_errno()}"
    return done, problem


def _anonymous_mappings() -> list[tuple[int, int]]:
    """(start, end) of the private read-write mappings with no file behind them: the heap and anonymous ones."""
    regions = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            name = fields[5] if len(fields) > 5 else ""
            if fields[1] == "rw-p" and name in ("", "[heap]"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                regions.append((start, end))
    return regions
