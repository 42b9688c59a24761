"""The flows a switch is known to hold, indexed by cookie partition."""

from __future__ import annotations

from collections.abc import Iterable

from .diff import FlowDiff
from .model import Flow, FlowKey
from .pipeline import partition_of


class InstalledTable:
    """One switch's flows of this application, as last read or confirmed.

    A flow's identity (table, priority, match) is unique on the switch, so when
    a flow moves to another partition (a VNIC moved between networks keeps its
    port and MAC) the old partition loses it.
    """

    def __init__(self, flows: Iterable[Flow] = ()) -> None:
        self._flows: dict[FlowKey, Flow] = {}
        self._parts: dict[int, set[FlowKey]] = {}
        for f in flows:
            self._put(f)

    def _put(self, f: Flow) -> None:
        old = self._flows.get(f.key)
        if old is not None:
            self._parts[partition_of(old.cookie)].discard(f.key)
        self._flows[f.key] = f
        self._parts.setdefault(partition_of(f.cookie), set()).add(f.key)

    def _remove(self, f: Flow) -> None:
        old = self._flows.pop(f.key, None)
        if old is not None:
            self._parts[partition_of(old.cookie)].discard(f.key)

    def partition(self, part: int) -> list[Flow]:
        return [self._flows[k] for k in self._parts.get(part, ())]

    def holds(self, part: int) -> bool:
        """Whether any flow of this partition is installed."""
        return bool(self._parts.get(part))

    def partitions(self) -> set[int]:
        return {p for p, keys in self._parts.items() if keys}

    def flows(self) -> list[Flow]:
        return list(self._flows.values())

    def __len__(self) -> int:
        return len(self._flows)

    def apply(self, d: FlowDiff, rejected: Iterable[Flow] = ()) -> None:
        """Record that the switch applied `d`, except the flow-mods it rejected."""
        failed = {f.key for f in rejected}
        for f in d.delete:
            if f.key not in failed:
                self._remove(f)
        for f in d.add + d.modify:
            if f.key not in failed:
                self._put(f)
