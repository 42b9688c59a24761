"""Counting an interrupted ping: the request in flight at the interrupt is not a loss, any other gap is."""

from __future__ import annotations

from testbeds.fabric import ping_counts


def _out(seqs: list[int], transmitted: int) -> str:
    lines = [f"64 bytes from 10.0.1.4: icmp_seq={s} ttl=64 time=0.1 ms" for s in seqs]
    return "\n".join(lines + [f"{transmitted} packets transmitted, {len(seqs)} received"])


def test_ping_counts() -> None:
    assert ping_counts(_out([1, 2, 3], 3)) == (3, 3)
    assert ping_counts(_out([1, 2, 3], 4)) == (3, 3)  # seq 4 was in flight
    assert ping_counts(_out([1, 3], 4)) == (3, 2)  # seq 2 lost, seq 4 in flight
    assert ping_counts(_out([1, 2], 5)) == (5, 2)  # the last three unanswered: an outage at the end
    assert ping_counts("ping: connect: Network is unreachable") == (0, 0)
