"""Compare the flows a switch should hold with those it holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .model import Flow, FlowKey


@dataclass
class FlowDiff:
    add: list[Flow] = field(default_factory=list)
    modify: list[Flow] = field(default_factory=list)
    delete: list[Flow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.add) + len(self.modify) + len(self.delete)

    def __bool__(self) -> bool:
        return len(self) > 0


def diff(desired: Iterable[Flow], installed: Iterable[Flow]) -> FlowDiff:
    """Flows to add, replace and delete so that `installed` becomes `desired`.

    Flows are identified by (table, priority, match), as the switch does; a flow
    with the same identity but other actions or cookie is replaced. Send a
    replacement as an ADD: an OpenFlow MODIFY keeps the old cookie.
    """
    want: dict[FlowKey, Flow] = {}
    for f in desired:
        if f.key in want and want[f.key] != f:
            raise ValueError(f"two desired flows share one identity: {want[f.key]} / {f}")
        want[f.key] = f
    have = {f.key: f for f in installed}
    out = FlowDiff()
    for key, f in want.items():
        old = have.get(key)
        if old is None:
            out.add.append(f)
        elif old != f:
            out.modify.append(f)
    out.delete = [f for key, f in have.items() if key not in want]
    return out
