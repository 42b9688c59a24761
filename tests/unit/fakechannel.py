"""A fake switch connection: the reconciler's Channel over simulated switches.

It sends what the real glue (`sdnapp.ofapp.SwitchChannels` with `sdnapp.ofmsg`)
sends, with the same effect on the switch: deletions first, then replacements
and additions, each replacement as an ADD (so the cookie is replaced too), and
every deletion strict by (table, priority, match) *and* by this application's
exact cookie, so it never takes another application's flow that happens to sit
at the same identity. Flows are read back, like the flow stats request, only if
their cookie carries this application's mark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from flows.diff import FlowDiff
from flows.model import Flow
from sdnapp.reconciler import SwitchGone
from tests.ofsim import FakeSwitch, is_ours
from topology.switches import SwitchPort

DiffKind = Literal["add", "modify", "delete"]


@dataclass(frozen=True)
class Message:
    """One flow-mod as sent. `kind` is the diff's kind: a "modify" goes on the wire as an ADD."""

    dpid: int
    kind: DiffKind
    flow: Flow
    rejected: bool = False


class FakeChannel:
    def __init__(self, *switches: FakeSwitch) -> None:
        self.switches: dict[int, FakeSwitch] = {sw.datapath_id: sw for sw in switches}
        self.ports: dict[int, dict[int, SwitchPort]] = {
            sw.datapath_id: {p: SwitchPort(p, f"port{p}", True) for p in sorted(sw.port_nos)} for sw in switches
        }
        self.messages: list[Message] = []
        self.reads: list[int] = []  # dpids whose flows were read, in order
        self.port_descs: list[int] = []
        self.gone: set[int] = set()  # disconnected: every request raises SwitchGone
        self.lose_barrier: set[int] = set()  # send applies the flow-mods, then the barrier reply never comes
        self.reject: Callable[[Flow], bool] = lambda f: False
        self.on_send: Callable[[int, FlowDiff], None] | None = None  # runs before anything is applied
        # Runs after a port list is read and before it is returned: what the switch does while
        # its reply is on the way (port-status events the controller receives meanwhile).
        self.after_port_desc: Callable[[int], None] | None = None

    # configuration ---------------------------------------------------------
    def set_port(self, dpid: int, port_no: int, name: str | None = None, up: bool | None = None) -> SwitchPort:
        old = self.ports[dpid].get(port_no, SwitchPort(port_no, f"port{port_no}", True))
        new = SwitchPort(port_no, old.name if name is None else name, old.up if up is None else up)
        self.ports[dpid][port_no] = new
        return new

    def delete_port(self, dpid: int, port_no: int) -> SwitchPort:
        return self.ports[dpid].pop(port_no)

    def disconnect(self, dpid: int) -> None:
        self.gone.add(dpid)

    def reconnect(self, dpid: int) -> None:
        self.gone.discard(dpid)

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.messages.clear()
        self.reads.clear()
        self.port_descs.clear()

    def sent(self, dpid: int | None = None) -> list[Message]:
        return [m for m in self.messages if dpid is None or m.dpid == dpid]

    def _switch(self, dpid: int) -> FakeSwitch:
        if dpid in self.gone or dpid not in self.switches:
            raise SwitchGone(f"{dpid:016x}")
        return self.switches[dpid]

    # the Channel protocol -----------------------------------------------------
    def port_desc(self, dpid: int) -> list[SwitchPort]:
        self._switch(dpid)
        self.port_descs.append(dpid)
        reply = list(self.ports[dpid].values())
        if self.after_port_desc is not None:
            self.after_port_desc(dpid)
        return reply

    def read_flows(self, dpid: int) -> list[Flow]:
        sw = self._switch(dpid)
        self.reads.append(dpid)
        return [f for f in sw.all_flows() if is_ours(f.cookie)]

    def ensure_controller_meter(self, dpid: int, meter_id: int, rate_pps: int, burst: int) -> bool:
        """This fake switch has no meters (as a switch without OpenFlow meter support)."""
        return False

    def send(self, dpid: int, diff: FlowDiff) -> list[Flow]:
        sw = self._switch(dpid)
        if self.on_send is not None:
            self.on_send(dpid, diff)
        ordered: list[tuple[DiffKind, Flow]] = (
            [("delete", f) for f in diff.delete] + [("modify", f) for f in diff.modify] + [("add", f) for f in diff.add]
        )
        rejected: list[Flow] = []
        for kind, f in ordered:
            if self.reject(f):
                rejected.append(f)
                self.messages.append(Message(dpid, kind, f, rejected=True))
                continue
            self.messages.append(Message(dpid, kind, f))
            if kind == "delete":
                held = sw.flows.get(f.table, {}).get(f.key)
                if held is not None and held.cookie == f.cookie:
                    sw.apply("delete", f)
            else:
                sw.apply("add", f)
        if dpid in self.lose_barrier:
            raise SwitchGone(f"{dpid:016x}: no barrier reply")
        return rejected
