"""sdnapp's DHCP server: a DHCP request punted by a VNIC's switch, answered with its port's lease.

The flows (`flows.pipeline.gateway_flows`) send DHCP from a bound VNIC's own port and MAC to the
controller through the DHCP meter; this finds the port's lease in the store (the VNIC bound to
the switch port the request came in on), has `sdnapp.dhcp` make the answer, and sends it straight
back out of that port. Nothing is stored: the address is the port's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import dhcp
from .config import DhcpConfig
from .core import network_mtu
from .desired import DesiredState
from .engines import StoreUnavailable
from .metrics import NO_METRICS, Metrics
from .reconciler import SwitchGone

LOG = logging.getLogger(__name__)

Send = Callable[[int, int, bytes], None]  # (datapath id, out port, frame)
_IPV4, _UDP = b"\x08\x00", 17


def claims(data: bytes) -> bool:
    """Whether a frame is untagged IPv4 UDP to the DHCP server port (the rest is `dhcp.parse_request`'s)."""
    if len(data) < 34 or data[12:14] != _IPV4 or data[23] != _UDP:
        return False
    udp = 14 + 4 * (data[14] & 0x0F)
    return len(data) >= udp + 4 and int.from_bytes(data[udp + 2:udp + 4], "big") == dhcp.SERVER_PORT


class DhcpServer:
    def __init__(self, desired: DesiredState, send: Send, config: DhcpConfig, underlay_mtu: int,
                 metrics: Metrics = NO_METRICS, nat_dns: tuple[str, ...] = ()) -> None:
        """`nat_dns`: the DNS servers for NATed networks (external.dns_servers), where they differ."""
        self.desired = desired
        self.send = send
        self.config = config
        self.nat_dns = nat_dns
        self.underlay_mtu = underlay_mtu
        self.metrics = metrics

    def lease(self, dpid: int, in_port: int) -> dhcp.Lease | dhcp.Silence:
        """The lease of the VNIC bound to this switch port, where its network serves DHCP."""
        found = self.desired.addressed_vnic(dpid, in_port)
        if found is None:
            return dhcp.refused("no plugged VNIC with an address is bound to this port")
        vnic, port, net, subnet = found
        if not subnet.enable_dhcp or subnet.gateway_ip is None or port.ip_address is None:
            return dhcp.refused(f"subnet {subnet.id} serves no DHCP (disabled, or no gateway)")
        return dhcp.Lease(
            mac=vnic.mac_address, address=port.ip_address, cidr=subnet.cidr, gateway=subnet.gateway_ip,
            # The subnet's own, else the outside's for a NATed network, else the configured default.
            dns=subnet.dns_nameservers or (self.nat_dns if net.nat else ()) or self.config.dns_servers,
            mtu=network_mtu(self.underlay_mtu, self.desired.segment_type),
            lease_time=self.config.lease_time, routes=subnet.host_routes,
        )

    def handle(self, dpid: int, in_port: int, data: bytes) -> str:
        """Answer one punted frame if it deserves an answer; the outcome counted."""
        req = dhcp.parse_request(data)
        result: dhcp.Reply | dhcp.Silence
        if isinstance(req, dhcp.Silence):
            result = req
        else:
            try:
                lease = self.lease(dpid, in_port)
            except StoreUnavailable as e:  # the client asks again; /healthz tells the operator
                lease = dhcp.Silence("store_down", f"the store is unavailable: {e}")
            result = lease if isinstance(lease, dhcp.Silence) else dhcp.answer(req, lease)
        if isinstance(result, dhcp.Silence):
            LOG.debug("DHCP from switch %016x port %d not answered (%s): %s", dpid, in_port, result.outcome,
                      result.reason)
            outcome = result.outcome
        else:
            outcome = dhcp.MESSAGE_NAMES[result.kind]
            try:
                self.send(dpid, in_port, result.frame)
            except SwitchGone:
                LOG.debug("DHCP %s for switch %016x port %d not sent: the switch is gone", outcome, dpid, in_port)
        self.metrics.dhcp(outcome)
        return outcome
