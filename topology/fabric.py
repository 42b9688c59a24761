"""Links between switches, the loop-free flooding tree, and shortest paths. Pure.

The controller computes the tree itself (no spanning tree protocol on the
switches): breadth-first from the lowest datapath id of each connected part,
neighbours in a fixed order, so every run over the same links gives the same
tree. Unicast takes a shortest path; the next hop from X towards D is X's
parent in the breadth-first tree rooted at D, so each hop gets strictly
closer to D and no path can loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True, order=True, slots=True)
class LinkEnd:
    datapath_id: int
    port_no: int

    def __str__(self) -> str:
        return f"{self.datapath_id:016x}/{self.port_no}"


@dataclass(frozen=True, order=True, slots=True)
class Link:
    """An inter-switch link; `a` is always the lower end, so a link has one spelling."""

    a: LinkEnd
    b: LinkEnd

    @staticmethod
    def of(x: LinkEnd, y: LinkEnd) -> Link:
        return Link(x, y) if x <= y else Link(y, x)

    def end_at(self, dpid: int) -> LinkEnd:
        return self.a if self.a.datapath_id == dpid else self.b

    def other(self, dpid: int) -> LinkEnd:
        return self.b if self.a.datapath_id == dpid else self.a

    def __str__(self) -> str:
        return f"{self.a}<->{self.b}"


class Fabric:
    """The switches and the links in use, with the tree and paths computed from them."""

    def __init__(self, switches: Iterable[int], links: Iterable[Link]) -> None:
        self.switches = frozenset(switches)
        usable = sorted(
            {
                lk for lk in links
                if lk.a.datapath_id in self.switches and lk.b.datapath_id in self.switches
                and lk.a.datapath_id != lk.b.datapath_id
            }
        )
        self.links = tuple(usable)
        self._adj: dict[int, list[tuple[int, Link]]] = {s: [] for s in self.switches}
        for lk in usable:
            self._adj[lk.a.datapath_id].append((lk.b.datapath_id, lk))
            self._adj[lk.b.datapath_id].append((lk.a.datapath_id, lk))
        for s in self._adj:
            self._adj[s].sort()
        self._toward: dict[int, dict[int, Link]] = {}

    @cached_property
    def tree(self) -> frozenset[Link]:
        """A spanning tree (one per connected part) of the links in use."""
        seen: set[int] = set()
        edges: set[Link] = set()
        for root in sorted(self.switches):
            if root in seen:
                continue
            seen.add(root)
            queue = deque([root])
            while queue:
                x = queue.popleft()
                for y, lk in self._adj[x]:
                    if y not in seen:
                        seen.add(y)
                        edges.add(lk)
                        queue.append(y)
        return frozenset(edges)

    def trunk_ports(self, dpid: int) -> set[int]:
        return {lk.end_at(dpid).port_no for _, lk in self._adj.get(dpid, ())}

    def pruned_tree(self, members: set[int]) -> frozenset[Link]:
        """The smallest part of the tree that joins `members`: leaves without members cut off, repeatedly."""
        edges = set(self.tree)
        degree: dict[int, int] = {}
        for lk in edges:
            for d in (lk.a.datapath_id, lk.b.datapath_id):
                degree[d] = degree.get(d, 0) + 1
        leaves = deque(sorted(d for d, n in degree.items() if n == 1 and d not in members))
        while leaves:
            leaf = leaves.popleft()
            for lk in [e for e in edges if leaf in (e.a.datapath_id, e.b.datapath_id)]:
                edges.discard(lk)
                other = lk.other(leaf).datapath_id
                degree[other] -= 1
                if degree[other] == 1 and other not in members:
                    leaves.append(other)
        return frozenset(edges)

    def _toward_tree(self, dst: int) -> dict[int, Link]:
        """For each switch that can reach `dst`: the link of its first hop towards it."""
        got = self._toward.get(dst)
        if got is not None:
            return got
        hop: dict[int, Link] = {}
        seen = {dst}
        queue = deque([dst])
        while queue:
            x = queue.popleft()
            for y, lk in self._adj[x]:
                if y not in seen:
                    seen.add(y)
                    hop[y] = lk
                    queue.append(y)
        self._toward[dst] = hop
        return hop

    def next_hop(self, src: int, dst: int) -> Link | None:
        """The link `src` sends on towards `dst` (None if `src` is `dst` or cannot reach it)."""
        if src == dst or dst not in self.switches:
            return None
        return self._toward_tree(dst).get(src)

    def path(self, src: int, dst: int) -> list[Link] | None:
        """The links of the shortest path from `src` to `dst` ([] if the same switch, None if unreachable)."""
        if src == dst:
            return []
        links: list[Link] = []
        x = src
        while x != dst:
            lk = self.next_hop(x, dst)
            if lk is None:
                return None
            links.append(lk)
            x = lk.other(x).datapath_id
        return links
