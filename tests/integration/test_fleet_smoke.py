"""The fleet benchmark runs end to end at a tiny size (the real sdnapp process, emulated switches over TCP) and
prints every figure for every size, the growth between sizes and, where py-spy works, the profile tables.

A smoke test: it checks that every phase ran and produced a figure, never how fast anything was (the
benchmark is run by hand for figures; see README "Benchmarks").
"""

from __future__ import annotations

import re

import pytest

from testbeds import bench_fleet, pyspy

FIGURES = [
    "populate: every port through the API, no switch connected",
    "populate: sdnapp CPU per 1,000 ports",
    "connect from cold: every switch reconciled",
    "connect from cold: every port ACTIVE",
    "connect from cold: until sdnapp idle again",
    "connect from cold: flow-mods the switches received",
    "connect from cold: connections the switches made (one each is ideal)",
    "connect from cold: connections dropped by the switches, controller silent",
    "flows on the switches, per switch (mean)",
    "connect from cold: sdnapp CPU",
    "connect from cold: emulator CPU",
    "sdnapp resident memory, every switch in sync",
    "restart (SIGKILL): every switch reconciled",
    "restart: every port ACTIVE",
    "restart: until sdnapp idle again",
    "restart: flow-mods sdnapp reports",
    "restart: flow-mods the switches received",
    "restart: connections the switches made (one each is ideal)",
    "restart: connections dropped by the switches, controller silent",
    "restart: sdnapp CPU (its whole new life)",
    "restart: emulator CPU",
    "one more port: plug -> ACTIVE, median",
    "one more port: plug -> ACTIVE, p90",
    "bulk: more ports created, plugged, bound -> all ACTIVE",
    "bulk: ports ACTIVE per second",
    "bulk: sdnapp CPU per 1,000 ports",
    "bulk: emulator CPU per 1,000 ports",
    "errors the switches sent",
]
VALUE = re.compile(r"[\d,.]+( \S+)?( \(.*\))?")


def rows(out: str) -> dict[str, list[list[str]]]:
    """Every table row by its first cell: the other cells, once per table the row appears in."""
    found: dict[str, list[list[str]]] = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            first, *cells = [c.strip() for c in line.strip().strip("|").split("|")]
            found.setdefault(first, []).append(cells)
    return found


def test_the_fleet_benchmark_prints_every_figure_at_every_size(capsys: pytest.CaptureFixture[str]) -> None:
    # Every wait bounded (a phase that never finishes prints "not done", which fails below, in minutes).
    assert bench_fleet.main(["--switches", "3,5", "--ports", "4", "--samples", "3", "--bulk", "10", "--timeout", "30",
                             "--api-port", "19831", "--of-port", "16831", "--profile"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "| 3 switches x 4 ports = 12 ports | |" in out and "| 5 switches x 4 ports = 20 ports | |" in out
    table = rows(out)
    for label in FIGURES:
        *per_size, growth = table[label]
        assert len(per_size) == 2 and len(growth) == 3, (label, table[label])
        for value in [cells[0] for cells in per_size] + growth[:2]:
            assert VALUE.fullmatch(value), f"{label}: {value!r} is not a figure"
        assert re.fullmatch(r"[\d.]+x|-|\(from 0\)", growth[2]), f"{label}: growth {growth[2]!r}"
    for sent in ("restart: flow-mods sdnapp reports", "restart: flow-mods the switches received"):
        assert table[sent][:2] == [["0"], ["0"]], "a restart with nothing changed sends nothing"
    assert table["errors the switches sent"][:2] == [["0"], ["0"]]
    if pyspy.why_not() is None:
        for phase in bench_fleet.PROFILED:
            assert f"| {phase}: inclusive seconds | 3 switches | 5 switches | 3 -> 5 |" in out
            assert f"| {phase}: own seconds | 3 switches | 5 switches | 3 -> 5 |" in out
    else:
        assert "# --profile: " in out
