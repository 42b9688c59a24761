"""Interfaces added and removed while sdnapp starts or a switch reconnects are never lost (issue 16).

Runs `testbeds.port_churn` (three VXLAN hypervisors, the real sdnapp process) for a few trials of
each kind; `python -m testbeds.port_churn --trials 100` runs the long version.
"""

from __future__ import annotations

from pathlib import Path

from testbeds.port_churn import KINDS, run_trials


def test_ports_added_while_switches_connect_end_active_and_reported(tmp_path: Path) -> None:
    results = run_trials(tmp_path, trials=8, seed=7)
    assert set(results) == set(KINDS) and all(len(runs) == 4 for runs in results.values())
    failed = {kind: [r for r in runs if r] for kind, runs in results.items()}
    assert not any(failed.values()), failed
