"""A child's process tree, read from /proc (Linux): its resident memory, and ending it.

``scan`` starts guarded decoder processes of its own (docs/ARCHITECTURE.md), so the memory
the fuzzer judges, and what a hang must end, is the whole tree, not the child alone.
"""

from __future__ import annotations

import collections
import os
import signal


def _children() -> dict[int, list[int]]:
    """Each running process's children, by parent id (field 4 of /proc/PID/stat)."""
    tree: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name in brackets may hold spaces: the fields after it are split.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree[ppid].append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, each parent before its children."""
    tree = _children()
    stack, found = [pid], []
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(tree.get(current, ()))
    return found


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants, from /proc/PID/statm."""
    total = 0
    for current in descendants(pid):
        try:
            with open(f"/proc/{current}/statm", "rb") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # it ended between the listing and the read
            continue
    return total


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants, children first, so none is re-parented alive."""
    for current in reversed(descendants(pid)):
        try:
            os.kill(current, signal.SIGKILL)
        except ProcessLookupError:
            continue
