"""What sdnapp keeps of a switch's database, from RFC 7047 monitor updates (sdnapp/ovsdbrows.py)."""

from __future__ import annotations

from typing import Any

import pytest

from sdnapp.ovsdbrows import BadUpdate, Bridge, Controller, Interface, Tables, as_map, as_set

U1, U2, UB, UC = "11111111-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000002", \
    "22222222-0000-0000-0000-000000000001", "33333333-0000-0000-0000-000000000001"


def _iface(name: str, ext: dict[str, str] | None = None, type_: str = "", options: dict[str, str] | None = None,
           ) -> dict[str, Any]:
    return {"name": name, "type": type_, "options": ["map", [[k, v] for k, v in (options or {}).items()]],
            "external_ids": ["map", [[k, v] for k, v in (ext or {}).items()]]}


def test_a_monitor_reply_keeps_only_what_sdnapp_reads() -> None:
    t = Tables()
    t.apply({
        "Interface": {
            U1: {"new": _iface("tap1", {"iface-id": "v1", "attached-mac": "fa:16:3e:00:00:01", "vm-uuid": "x",
                                        "iface-status": "active", "other": "y"})},
            U2: {"new": _iface("vxlan0", type_="vxlan", options={"key": "flow", "local_ip": "10.0.0.1"})},
        },
        "Bridge": {UB: {"new": {"name": "br-int", "controller": ["uuid", UC], "datapath_type": "netdev"}}},
        "Controller": {UC: {"new": {"controller_rate_limit": ["set", []], "controller_burst_limit": 25}}},
    })
    assert t.interfaces[U1] == Interface("tap1", "", (), (("attached-mac", "fa:16:3e:00:00:01"),
                                                          ("iface-id", "v1"), ("iface-status", "active")))
    assert t.interfaces[U2].row()["options"] == {"key": "flow", "local_ip": "10.0.0.1"}
    assert t.bridge("br-int") == (UB, Bridge("br-int", (UC,), "netdev"))
    assert t.controllers[UC] == Controller(None, 25)
    assert t.interface("vxlan0") is not None and t.interface("nope") is None


def test_updates_modify_and_delete_rows() -> None:
    t = Tables()
    t.apply({"Interface": {U1: {"new": _iface("tap1")}, U2: {"new": _iface("tap2")}}})
    t.apply({"Interface": {U1: {"old": {"external_ids": ["map", []]}, "new": _iface("tap1", {"iface-id": "v9"})},
                           U2: {"old": _iface("tap2")}}})
    assert list(t.interfaces) == [U1] and dict(t.interfaces[U1].vif_ids) == {"iface-id": "v9"}
    t.apply({"Bridge": {UB: {"new": {"name": "b", "controller": ["set", [["uuid", UC], ["uuid", U2]]],
                                     "datapath_type": ""}}}})
    assert t.bridges[UB].controllers == (UC, U2)


@pytest.mark.parametrize("bad", [
    [],
    {"Port": {}},  # not monitored
    {"Interface": []},
    {"Interface": {U1: "x"}},
    {"Interface": {U1: {"new": "x"}}},
    {"Interface": {U1: {"new": {"name": "tap1"}}}},  # columns missing
    {"Interface": {U1: {"new": {**_iface("tap1"), "external_ids": ["set", []]}}}},
    {"Interface": {U1: {"new": {**_iface("tap1"), "name": {"a": 1}}}}},
    {"Interface": {U1: {"new": {**_iface("tap1"), "options": ["map", [["a"]]]}}}},
    {"Controller": {UC: {"new": {"controller_rate_limit": ["set", [1, 2]], "controller_burst_limit": 1}}}},
])
def test_a_bad_update_changes_nothing(bad: Any) -> None:
    t = Tables()
    t.apply({"Interface": {U2: {"new": _iface("tap2")}}})
    before = dict(t.interfaces)
    with pytest.raises(BadUpdate):
        t.apply({"Interface": {U1: {"new": _iface("tap1")}}, **bad} if isinstance(bad, dict) else bad)
    assert t.interfaces == before  # the good row of the same update is not applied either


def test_notation() -> None:
    assert as_set("a") == ("a",) and as_set(["set", ["a", "b"]]) == ("a", "b")
    assert as_set(["uuid", U1]) == (U1,)
    assert as_map(["map", [["k", ["uuid", U1]]]]) == {"k": U1}
    with pytest.raises(BadUpdate):
        as_map("x")
