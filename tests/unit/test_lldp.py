"""Signed LLDP frames: what the controller sends decodes back; anything else is refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from topology import lldp

KEY = b"k" * 32


@given(st.integers(0, (1 << 64) - 1), st.integers(1, 0xFFFFFF00))
def test_round_trip(dpid: int, port: int) -> None:
    assert lldp.decode(KEY, lldp.encode(KEY, dpid, port)) == (dpid, port)


def test_another_key_or_a_changed_frame_is_refused() -> None:
    frame = lldp.encode(KEY, 1, 2)
    assert lldp.decode(b"x" * 32, frame) is None
    forged = frame.replace(b"dpid:0000000000000001", b"dpid:0000000000000009")
    assert lldp.decode(KEY, forged) is None
    assert lldp.decode(KEY, frame.replace(b"\x072", b"\x073")) is None  # another port id


@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    frame = lldp.DST_MAC + lldp.SRC_MAC + b"\x88\xcc" + data
    assert lldp.decode(KEY, frame) is None
    assert lldp.decode(KEY, data) is None


def test_truncated_frames_are_refused() -> None:
    frame = lldp.encode(KEY, 7, 3)
    for n in range(len(frame)):
        assert lldp.decode(KEY, frame[:n]) is None
