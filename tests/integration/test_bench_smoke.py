"""The benchmark runs end to end at a small size, both products, and prints its side-by-side table.

A smoke test: it checks that every scenario ran and produced a figure for each product, never how
fast anything was (the benchmark is run by hand for figures; see README "Benchmarks").
"""

from __future__ import annotations

import re
import shutil

import pytest

from testbeds import bench

ROWS = [
    "one more port -> ready, median",
    "bulk: 20 ports, all ready",
    "flows per switch (mean)",
    "resident memory",
    "CPU seconds per 1,000 ports (bulk)",
    "restart (SIGKILL): all switches reconciled",
    "restart: flows re-added on the switches",
]


def test_bench_runs_both_products_and_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    for tool in ("ovn-northd", "ovn-controller", "ovs-vswitchd"):
        assert shutil.which(tool), f"{tool} missing: run scripts/setup.sh"
    assert bench.main(["--sizes", "20", "--samples", "3", "--product", "both",
                       "--api-port", "19761", "--of-port", "16761"]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "| 20 ports, 2 networks, 1 switch(es) | sdnapp | OVN | better |" in out
    cells = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if len(parts) == 4:
            cells[parts[0]] = parts[1:]
    for row in ROWS:
        sdnapp, ovn, _ = cells[row]
        for value in (sdnapp, ovn):
            assert re.fullmatch(r"[\d,.]+( \w+)?", value), f"{row}: {value!r} is not a figure"
    # OVN alone has the --wait=hv figure; sdnapp alone reports its own flow-mods.
    assert cells["one more port -> --wait=hv returned, median"][0] == "-"
    assert cells["restart: flow-mods the controller reports"][1] == "-"
