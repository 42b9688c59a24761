"""The fabric's flooding tree, pruned trees, next hops and paths, checked against plain graph searches written here."""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fabricsim import full_mesh, hop_counts, leaf_spine, line, ring, wire
from topology.fabric import Fabric, Link, LinkEnd

# -- independent graph helpers -------------------------------------------------


def ends(lk: Link) -> tuple[int, int]:
    return lk.a.datapath_id, lk.b.datapath_id


def parts(switches: Iterable[int], links: Iterable[Link]) -> list[frozenset[int]]:
    """Connected parts, as sets of switches."""
    links = list(links)
    left = set(switches)
    out: list[frozenset[int]] = []
    while left:
        part = frozenset(hop_counts(links, min(left)))
        out.append(part)
        left -= part
    return out


def is_forest(links: Iterable[Link]) -> bool:
    root: dict[int, int] = {}

    def find(x: int) -> int:
        while root.setdefault(x, x) != x:
            x = root[x]
        return x

    for lk in links:
        x, y = (find(d) for d in ends(lk))
        if x == y:
            return False
        root[x] = y
    return True


def tree_path(tree: Iterable[Link], src: int, dst: int) -> set[Link]:
    """The links of the unique path between two switches of a forest (empty if the same or unjoined)."""
    by_node: dict[int, list[tuple[int, Link]]] = {}
    for lk in tree:
        x, y = ends(lk)
        by_node.setdefault(x, []).append((y, lk))
        by_node.setdefault(y, []).append((x, lk))
    came: dict[int, tuple[int, Link] | None] = {src: None}
    queue = deque([src])
    while queue:
        x = queue.popleft()
        for y, lk in by_node.get(x, ()):
            if y not in came:
                came[y] = (x, lk)
                queue.append(y)
    if dst not in came:
        return set()
    out: set[Link] = set()
    step = came[dst]
    while step is not None:
        out.add(step[1])
        step = came[step[0]]
    return out


# -- topologies ------------------------------------------------------------------


def parallel() -> tuple[set[int], list[Link]]:
    """1 =2= 2 - 3, with two links between 1 and 2, and 3 - 4 twice too."""
    return {1, 2, 3, 4}, wire([(1, 2), (1, 2), (2, 3), (3, 4), (4, 3)])


def disconnected() -> tuple[set[int], list[Link]]:
    """A ring 1-2-3, a line 10-11-12, and a switch 20 alone."""
    return {1, 2, 3, 10, 11, 12, 20}, wire(ring(3) + [(10, 11), (11, 12)])


def named(pairs: list[tuple[int, int]], extra: Iterable[int] = ()) -> tuple[set[int], list[Link]]:
    links = wire(pairs)
    return {d for lk in links for d in ends(lk)} | set(extra), links


TOPOLOGIES: dict[str, tuple[set[int], list[Link]]] = {
    "single": ({7}, []),
    "pair": named(line(2)),
    "line5": named(line(5)),
    "ring4": named(ring(4)),
    "ring5": named(ring(5)),
    "leaf-spine-2x4": named(leaf_spine(2, 4)),
    "mesh5": named(full_mesh(5)),
    "parallel": parallel(),
    "disconnected": disconnected(),
}


@pytest.fixture(params=sorted(TOPOLOGIES))
def topo(request: pytest.FixtureRequest) -> tuple[set[int], list[Link], Fabric]:
    switches, links = TOPOLOGIES[request.param]
    return switches, links, Fabric(switches, links)


Topo = tuple[set[int], list[Link], Fabric]


# -- the tree ----------------------------------------------------------------------


def check_tree(switches: set[int], links: list[Link], fabric: Fabric) -> None:
    tree = fabric.tree
    assert tree <= set(links)
    assert is_forest(tree)
    link_parts = parts(switches, links)
    assert len(tree) == len(switches) - len(link_parts)
    assert sorted(map(sorted, parts(switches, tree))) == sorted(map(sorted, link_parts))


def test_tree_spans_each_part_without_a_cycle(topo: Topo) -> None:
    check_tree(*topo)


def test_tree_is_deterministic_whatever_the_order_of_links(topo: Topo) -> None:
    switches, links, fabric = topo
    rng = random.Random(1)
    for _ in range(5):
        shuffled = list(links)
        rng.shuffle(shuffled)
        again = Fabric(sorted(switches, reverse=True), shuffled)
        assert again.tree == fabric.tree
        assert again.links == fabric.links
        for s, d in itertools.product(switches, repeat=2):
            assert again.path(s, d) == fabric.path(s, d)


def test_trunk_ports_are_the_link_ends_on_a_switch(topo: Topo) -> None:
    switches, links, fabric = topo
    for s in switches:
        expected = {e.port_no for lk in links for e in (lk.a, lk.b) if e.datapath_id == s}
        assert fabric.trunk_ports(s) == expected
    assert fabric.trunk_ports(999) == set()


def test_tree_of_a_ring_leaves_out_exactly_one_link() -> None:
    links = wire(ring(4))
    tree = Fabric({1, 2, 3, 4}, links).tree
    assert len(set(links) - tree) == 1


def test_tree_of_leaf_spine_reaches_the_second_spine_through_one_leaf() -> None:
    switches, links = TOPOLOGIES["leaf-spine-2x4"]
    tree = Fabric(switches, links).tree
    degree = {s: sum(s in ends(lk) for lk in tree) for s in switches}
    assert degree[1] == 4  # the root spine, BFS from the lowest id, takes every leaf
    assert degree[2] == 1  # the other spine hangs off one leaf


def test_links_to_unknown_switches_and_to_self_are_ignored() -> None:
    good = Link.of(LinkEnd(1, 1), LinkEnd(2, 1))
    self_loop = Link.of(LinkEnd(1, 5), LinkEnd(1, 6))
    stray = Link.of(LinkEnd(2, 2), LinkEnd(9, 1))
    fabric = Fabric({1, 2}, [good, self_loop, stray, good])
    assert fabric.links == (good,)
    assert fabric.tree == {good}
    assert fabric.trunk_ports(1) == {1}
    assert fabric.trunk_ports(2) == {1}


# -- pruned trees --------------------------------------------------------------------


def minimal_subtree(tree: frozenset[Link], members: set[int]) -> set[Link]:
    """The union of the tree paths between every two members: the smallest subtree joining them."""
    out: set[Link] = set()
    for x, y in itertools.combinations(sorted(members), 2):
        out |= tree_path(tree, x, y)
    return out


def member_sets(switches: set[int]) -> list[set[int]]:
    ordered = sorted(switches)
    if len(ordered) <= 7:
        return [set(c) for r in range(len(ordered) + 1) for c in itertools.combinations(ordered, r)]
    rng = random.Random(len(ordered))
    return [set(rng.sample(ordered, rng.randint(0, len(ordered)))) for _ in range(60)]


def test_pruned_tree_is_the_smallest_subtree_joining_the_members(topo: Topo) -> None:
    switches, _, fabric = topo
    for members in member_sets(switches):
        pruned = fabric.pruned_tree(members)
        assert pruned == minimal_subtree(fabric.tree, members), members
        # every leaf of what is left has a member; a switch between members stays
        degree: dict[int, int] = {}
        for lk in pruned:
            for d in ends(lk):
                degree[d] = degree.get(d, 0) + 1
        assert all(d in members for d, n in degree.items() if n == 1), (members, pruned)


def test_pruned_tree_of_a_line_keeps_the_inner_switches_and_cuts_the_leaves() -> None:
    links = wire(line(5))  # 1-2-3-4-5
    fabric = Fabric(range(1, 6), links)
    got = fabric.pruned_tree({2, 4})
    assert {ends(lk) for lk in got} == {(2, 3), (3, 4)}
    assert fabric.pruned_tree({1}) == frozenset()
    assert fabric.pruned_tree(set()) == frozenset()
    assert fabric.pruned_tree({1, 5}) == fabric.tree


def test_pruned_tree_of_leaf_spine_goes_through_the_root_spine() -> None:
    switches, links = TOPOLOGIES["leaf-spine-2x4"]  # spines 1, 2; leaves 3..6
    fabric = Fabric(switches, links)
    got = fabric.pruned_tree({4, 5})
    assert {ends(lk) for lk in got} == {(1, 4), (1, 5)}


def test_pruned_tree_with_members_in_two_parts_joins_each_part_alone() -> None:
    switches, links = disconnected()
    fabric = Fabric(switches, links)
    got = fabric.pruned_tree({1, 2, 10, 12, 20})
    assert {ends(lk) for lk in got} == {(1, 2), (10, 11), (11, 12)}


# -- next hops and paths ------------------------------------------------------------


def test_next_hop_gets_strictly_closer(topo: Topo) -> None:
    switches, links, fabric = topo
    for dst in switches:
        dist = hop_counts(links, dst)
        for src in switches:
            hop = fabric.next_hop(src, dst)
            if src == dst or src not in dist:
                assert hop is None
                continue
            assert hop is not None and src in ends(hop)
            assert hop in fabric.links
            assert dist[hop.other(src).datapath_id] == dist[src] - 1
    assert fabric.next_hop(min(switches), 999) is None
    assert fabric.next_hop(999, min(switches)) is None


def test_path_is_a_shortest_walk_from_src_to_dst(topo: Topo) -> None:
    switches, links, fabric = topo
    for src in switches:
        dist = hop_counts(links, src)
        for dst in switches:
            got = fabric.path(src, dst)
            if dst not in dist:
                assert got is None
                continue
            assert got is not None and len(got) == dist[dst]
            at = src
            for lk in got:
                assert at in ends(lk)
                at = lk.other(at).datapath_id
            assert at == dst
    assert fabric.path(min(switches), 999) is None
    assert fabric.path(999, min(switches)) is None


def test_path_over_parallel_links_takes_one_of_them() -> None:
    switches, links = parallel()
    fabric = Fabric(switches, links)
    got = fabric.path(1, 4)
    assert got is not None and len(got) == 3
    assert fabric.trunk_ports(1) == {1, 2}
    assert fabric.trunk_ports(3) == {1, 2, 3}


def test_mesh_paths_are_one_hop() -> None:
    switches, links = TOPOLOGIES["mesh5"]
    fabric = Fabric(switches, links)
    for s, d in itertools.permutations(switches, 2):
        got = fabric.path(s, d)
        assert got is not None and len(got) == 1 and set(ends(got[0])) == {s, d}


# -- random graphs ------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> tuple[set[int], list[Link]]:
    dpids = draw(st.lists(st.integers(1, 2**20), min_size=1, max_size=8, unique=True))
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(dpids), st.sampled_from(dpids)).filter(lambda p: p[0] != p[1]), max_size=14)
        if len(dpids) > 1
        else st.just([])
    )
    return set(dpids), wire(pairs)


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_random_graphs(graph: tuple[set[int], list[Link]]) -> None:
    switches, links = graph
    fabric = Fabric(switches, links)
    check_tree(switches, links, fabric)
    for src in switches:
        dist = hop_counts(links, src)
        for dst in switches:
            got = fabric.path(src, dst)
            assert (got is None) == (dst not in dist)
            if got is not None:
                assert len(got) == dist[dst]
    members = set(sorted(switches)[::2])
    assert fabric.pruned_tree(members) == minimal_subtree(fabric.tree, members)
