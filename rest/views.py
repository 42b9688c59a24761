"""Resources rendered as the API shows them."""

from __future__ import annotations

from typing import Any

from sdnapp.model import Caller, FloatingAddress, Network, Port, Vnic
from sdnapp.service import NetworkService
from sdnapp.validate import format_dpid
from topology.switches import KnownLink, LinkInUse, Switch


def network(n: Network, caller: Caller) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": n.id,
        "tenant_id": n.tenant_id,
        "name": n.name,
        "address_prefix": n.address_prefix,
        "status": "ACTIVE",
        "nat": n.nat,
        "gateway_ip": n.gateway_ip,
        "external_address": n.external_address,
    }
    if caller.is_admin:
        out["segment"] = {"type": n.segment_type, "id": n.segment_id}
    return out


def floating_address(f: FloatingAddress, svc: NetworkService) -> dict[str, Any]:
    return {
        "id": f.id,
        "tenant_id": f.tenant_id,
        "address": f.address,
        "port_id": f.port_id,
        "fixed_address": f.fixed_address,
        "status": svc.floating_status(f),
    }


def port(p: Port, svc: NetworkService) -> dict[str, Any]:
    return {
        "id": p.id,
        "tenant_id": p.tenant_id,
        "network_id": p.network_id,
        "name": p.name,
        "vnic_id": p.vnic_id,
        "ip_address": p.ip_address,
        "status": svc.port_status(p),
    }


def vnic(v: Vnic, svc: NetworkService) -> dict[str, Any]:
    b = svc.vnic_binding(v)
    binding = None
    if b is not None:
        binding = {
            "datapath_id": format_dpid(b.datapath_id),
            "port_no": b.port_no,
            "port_name": b.port_name,
            "source": b.source,
        }
    return {
        "id": v.id,
        "tenant_id": v.tenant_id,
        "name": v.name,
        "mac_address": v.mac_address,
        "port_id": v.port_id,
        "binding": binding,
        "status": svc.vnic_status(v),
    }


def attachment(p: Port) -> dict[str, Any]:
    return {"port_id": p.id, "vnic_id": p.vnic_id}


def switch(s: Switch, extras: dict[str, Any]) -> dict[str, Any]:
    return {
        "datapath_id": format_dpid(s.datapath_id),
        "connected": s.connected,
        "ports": [
            {"port_no": p.port_no, "name": p.name, "up": p.up}
            for p in sorted(s.ports.values(), key=lambda p: p.port_no)
        ],
        **extras,
    }


def link(u: LinkInUse) -> dict[str, Any]:
    return {
        "src": {"datapath_id": format_dpid(u.link.a.datapath_id), "port_no": u.link.a.port_no},
        "dst": {"datapath_id": format_dpid(u.link.b.datapath_id), "port_no": u.link.b.port_no},
        "source": u.source,
    }


def known_link(k: KnownLink) -> dict[str, Any]:
    return {**link(LinkInUse(k.link, k.source)), "state": k.state}


def network_ports(n: Network, ports: list[Port], vnics: dict[str, Vnic], svc: NetworkService,
                  caller: Caller) -> dict[str, Any]:
    """A network with its ports, each with its VNIC's MAC and where that VNIC is bound: the live view's."""
    out = network(n, caller)
    out["ports"] = []
    for p in ports:
        v = vnics.get(p.vnic_id) if p.vnic_id else None
        b = svc.vnic_binding(v) if v is not None else None
        out["ports"].append({
            **port(p, svc),
            "mac_address": v.mac_address if v is not None else None,
            "binding": None if b is None else {"datapath_id": format_dpid(b.datapath_id), "port_no": b.port_no,
                                               "port_name": b.port_name},
        })
    return out
