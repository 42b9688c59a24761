"""JSON schemas of request bodies and resources, used to validate requests and in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from sdnapp.service import MAX_BULK
from topology.switches import MAX_PORT_NO

Schema = dict[str, Any]

_NAME: Schema = {"type": "string", "maxLength": 255}
_UUID: Schema = {"type": "string", "format": "uuid"}


def _wrapped(key: str, inner: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {key: inner},
        "required": [key],
        "additionalProperties": False,
    }


_VNIC_FIELDS: Schema = {
    "type": "object",
    "properties": {"mac_address": {"type": "string", "maxLength": 17}, "name": _NAME},
    "additionalProperties": False,
}
VNIC_CREATE = _wrapped("vnic", _VNIC_FIELDS)
_NETWORK_FIELDS: Schema = {
    "type": "object",
    "properties": {"name": _NAME, "address_prefix": {"type": ["string", "null"], "maxLength": 18},
                   "nat": {"type": "boolean"}},
    "additionalProperties": False,
}
# One network, or many in one call (all or none), as Neutron's bulk create.
NETWORK_CREATE: Schema = {"oneOf": [
    _wrapped("network", _NETWORK_FIELDS),
    _wrapped("networks", {"type": "array", "minItems": 1, "maxItems": MAX_BULK, "items": _NETWORK_FIELDS}),
]}
_FLOATING_FIELDS: Schema = {
    "type": "object",
    "properties": {"port_id": {"type": ["string", "null"], "maxLength": 64}},
    "additionalProperties": False,
}
FLOATING_CREATE = _wrapped("floating_address", _FLOATING_FIELDS)
FLOATING_PUT = _wrapped("floating_address", {**_FLOATING_FIELDS, "required": ["port_id"]})
PORT_CREATE = _wrapped(
    "port",
    {"type": "object", "properties": {"name": _NAME}, "additionalProperties": False},
)
ATTACHMENT_PUT = _wrapped(
    "attachment",
    {
        "type": "object",
        "properties": {"vnic_id": {"type": "string", "maxLength": 64}},
        "required": ["vnic_id"],
        "additionalProperties": False,
    },
)
_BINDING_FIELDS: Schema = {
    "type": "object",
    "properties": {
        "datapath_id": {"oneOf": [{"type": "string", "maxLength": 20}, {"type": "integer", "minimum": 0}]},
        "port_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "port_no": {"type": "integer", "minimum": 1, "maximum": MAX_PORT_NO},
    },
    "required": ["datapath_id"],
    "oneOf": [{"required": ["port_name"]}, {"required": ["port_no"]}],
    "additionalProperties": False,
}
BINDING_PUT = _wrapped("binding", _BINDING_FIELDS)
PLUGGED_PORTS_CREATE = _wrapped(
    "plugged_ports",
    {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_BULK,
        "items": {
            "type": "object",
            "properties": {
                "network_id": {"type": "string", "maxLength": 64},
                "name": _NAME,
                "vnic": _VNIC_FIELDS,
                "binding": _BINDING_FIELDS,
            },
            "required": ["network_id"],
            "additionalProperties": False,
        },
    },
)

# Resources as the API returns them (for the OpenAPI document and its tests).
ERROR: Schema = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            "required": ["type", "message"],
        }
    },
    "required": ["error"],
}
STATUS: Schema = {"type": "string", "enum": ["ACTIVE", "DOWN", "ERROR"]}
NETWORK: Schema = {
    "type": "object",
    "properties": {
        "id": _UUID,
        "tenant_id": {"type": "string"},
        "name": {"type": "string"},
        "address_prefix": {"type": ["string", "null"]},
        "segment": {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": ["vlan", "vxlan"]}, "id": {"type": "integer"}},
            "required": ["type", "id"],
        },
        "status": {"type": "string", "enum": ["ACTIVE"]},
        "nat": {"type": "boolean"},
        "gateway_ip": {"type": ["string", "null"]},
        "external_address": {"type": ["string", "null"]},
    },
    "required": ["id", "tenant_id", "name", "address_prefix", "status", "nat", "gateway_ip", "external_address"],
}
FLOATING_ADDRESS: Schema = {
    "type": "object",
    "properties": {
        "id": _UUID,
        "tenant_id": {"type": "string"},
        "address": {"type": "string"},
        "port_id": {"type": ["string", "null"]},
        "fixed_address": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["ACTIVE", "DOWN"]},
    },
    "required": ["id", "tenant_id", "address", "port_id", "fixed_address", "status"],
}
PORT: Schema = {
    "type": "object",
    "properties": {
        "id": _UUID,
        "tenant_id": {"type": "string"},
        "network_id": _UUID,
        "name": {"type": "string"},
        "vnic_id": {"type": ["string", "null"]},
        "ip_address": {"type": ["string", "null"]},
        "status": STATUS,
    },
    "required": ["id", "tenant_id", "network_id", "name", "vnic_id", "ip_address", "status"],
}
BINDING: Schema = {
    "type": "object",
    "properties": {
        "datapath_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "port_no": {"type": ["integer", "null"]},
        "port_name": {"type": ["string", "null"]},
        "source": {"type": "string", "enum": ["api", "switch"]},
    },
    "required": ["datapath_id", "port_no", "port_name", "source"],
}
VNIC: Schema = {
    "type": "object",
    "properties": {
        "id": _UUID,
        "tenant_id": {"type": "string"},
        "name": {"type": "string"},
        "mac_address": {"type": "string", "pattern": "^([0-9a-f]{2}:){5}[0-9a-f]{2}$"},
        "port_id": {"type": ["string", "null"]},
        "binding": {"oneOf": [{"type": "null"}, BINDING]},
        "status": STATUS,
    },
    "required": ["id", "tenant_id", "name", "mac_address", "port_id", "binding", "status"],
}
PLUGGED_PORT: Schema = {
    "type": "object",
    "properties": {"port": PORT, "vnic": VNIC},
    "required": ["port", "vnic"],
}
ATTACHMENT: Schema = {
    "type": "object",
    "properties": {"port_id": _UUID, "vnic_id": {"type": ["string", "null"]}},
    "required": ["port_id", "vnic_id"],
}
EXTENSION: Schema = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in ("alias", "name", "description", "updated")},
    "required": ["alias", "name", "description", "updated"],
}
SWITCH: Schema = {
    "type": "object",
    "properties": {
        "datapath_id": {"type": "string"},
        "connected": {"type": "boolean"},
        "ports": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"port_no": {"type": "integer"}, "name": {"type": "string"}, "up": {"type": "boolean"}},
                "required": ["port_no", "name", "up"],
            },
        },
        "flows": {
            "type": "object",
            "description": "Reconciliation on this switch: flows of ours it holds, flow-mods sent, rejected.",
            "properties": {
                "installed": {"type": ["integer", "null"]},
                "flow_mods_sent": {"type": "integer"},
                "rejected": {"type": "integer"},
                "last_read_back": {"type": ["string", "null"]},
            },
        },
        "ovsdb": {
            "type": "object",
            "description": "A switch with an OVSDB address in the config: the connection and the VIFs seen.",
            "properties": {
                "remote": {"type": "string"},
                "connected": {"type": "boolean"},
                "error": {"type": ["string", "null"]},
                "vifs": {"type": "integer"},
            },
        },
        "capabilities": {
            "type": "object",
            "description": "What the switch offered when it connected, and what it lacks for the pipeline: a "
                           "switch that lacks something is never programmed.",
            "properties": {
                "openflow_version": {"type": "string"},
                "tables": {"type": "integer"},
                "meters": {"type": ["integer", "null"]},
                "ports": {"type": ["integer", "null"]},
                "supported": {"type": "boolean"},
                "missing": {"type": "array", "items": {"type": "string"}},
                "warnings": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["openflow_version", "tables", "meters", "ports", "supported", "missing", "warnings"],
        },
        "gateway": {
            "type": "object",
            "description": "The NAT gateway switch (extension `nat`): its uplink, and the next hop's MAC once ARP "
                           "found it; `problem` says what keeps traffic from leaving.",
            "properties": {
                "uplink_port": {"type": "string"},
                "uplink_port_no": {"type": ["integer", "null"]},
                "next_hop": {"type": "string"},
                "next_hop_mac": {"type": ["string", "null"]},
                "next_hop_seen_ago": {"type": ["number", "null"]},
                "ok": {"type": "boolean"},
                "problem": {"type": ["string", "null"]},
            },
        },
        "tunnel": {
            "type": "object",
            "description": "With the vxlan driver: the tunnel port, and what is wrong with it if anything.",
            "properties": {
                "port_name": {"type": "string"},
                "port_no": {"type": ["integer", "null"]},
                "local_ip": {"type": "string"},
                "ok": {"type": "boolean"},
                "problem": {"type": ["string", "null"]},
            },
        },
    },
    "required": ["datapath_id", "connected", "ports"],
}
LINK_END: Schema = {
    "type": "object",
    "properties": {"datapath_id": {"type": "string"}, "port_no": {"type": "integer"}},
    "required": ["datapath_id", "port_no"],
}
LINK: Schema = {
    "type": "object",
    "properties": {
        "src": LINK_END,
        "dst": LINK_END,
        "source": {"type": "string", "enum": ["discovered", "configured", "both"]},
    },
    "required": ["src", "dst", "source"],
}
KNOWN_LINK: Schema = {
    "type": "object",
    "properties": {
        **LINK["properties"],
        "state": {"type": "string", "enum": ["up", "down", "problem"]},
    },
    "required": [*LINK["required"], "state"],
}
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_NULLABLE_INT: Schema = {"type": ["integer", "null"]}
VIEW_PORT: Schema = {
    "type": "object",
    "properties": {
        **PORT["properties"],
        "mac_address": _NULLABLE_STRING,
        "binding": {"oneOf": [{"type": "null"}, {
            "type": "object",
            "properties": {"datapath_id": {"type": "string"}, "port_no": _NULLABLE_INT, "port_name": _NULLABLE_STRING},
            "required": ["datapath_id", "port_no", "port_name"],
        }]},
    },
    "required": [*PORT["required"], "mac_address", "binding"],
}
VIEW_NETWORK: Schema = {
    "type": "object",
    "properties": {**NETWORK["properties"], "ports": {"type": "array", "items": VIEW_PORT}},
    "required": [*NETWORK["required"], "ports"],
}

# A flow as the operations views show it; a frame as the trace describes it (fields it lacks are left out).
FLOW: Schema = {
    "type": "object",
    "properties": {
        "table": {"type": "integer"},
        "priority": {"type": "integer"},
        "cookie": {"type": "string", "description": "hexadecimal"},
        "match": {"type": "object", "description": "field -> value, or [value, mask]"},
        "actions": {"type": "array", "items": {"type": "string"}, "description": "as ovs-ofctl writes them"},
        "goto": _NULLABLE_INT,
        "role": {"type": "string", "enum": ["lldp", "miss", "guard", "gateway", "dhcp", "admit", "trunk", "deliver",
                                            "forward", "tunnel", "flood", "other"]},
        "explanation": {"type": "string"},
    },
    "required": ["table", "priority", "cookie", "match", "actions", "goto", "role", "explanation"],
}
PORT_FLOW: Schema = {
    "type": "object",
    "properties": {**FLOW["properties"], "datapath_id": {"type": "string"}, "installed": {"type": ["boolean", "null"]}},
    "required": [*FLOW["required"], "datapath_id", "installed"],
}
FRAME: Schema = {
    "type": "object",
    "properties": {
        **{k: {"type": "integer"} for k in ("in_port", "vlan_vid", "ip_proto", "udp_src", "udp_dst", "tunnel_id",
                                            "ip_ttl", "ct_state", "ct_zone")},
        **{k: {"type": "string"} for k in ("eth_src", "eth_dst", "eth_type", "ipv4_src", "ipv4_dst", "arp_spa",
                                           "arp_tpa", "arp_sha", "tun_ipv4_src", "tun_ipv4_dst")},
    },
    "required": ["in_port", "eth_src", "eth_dst", "eth_type"],
}
_SWITCH_PORT: Schema = {
    "type": "object",
    "properties": {"datapath_id": {"type": "string"}, "port_no": {"type": "integer"}},
    "required": ["datapath_id", "port_no"],
}
TRACE: Schema = {
    "type": "object",
    "properties": {
        "from": {
            "type": "object",
            "description": "Where the frame enters; the switch port is null when it enters nowhere (see verdict).",
            "properties": {"port_id": _NULLABLE_STRING, "vnic_id": _NULLABLE_STRING, "datapath_id": _NULLABLE_STRING,
                           "port_no": _NULLABLE_INT, "port_name": _NULLABLE_STRING},
            "required": ["port_id", "vnic_id", "datapath_id", "port_no", "port_name"],
        },
        "to": {"oneOf": [{"type": "null"}, {
            "type": "object",
            "description": "The VNIC that has the address, if one does.",
            "properties": {"address": {"type": "string"}, "port_id": {"type": "string"},
                           "vnic_id": {"type": "string"}, "segment": {"type": "integer"},
                           "datapath_id": {"type": "string"}, "port_no": {"type": "integer"}},
            "required": ["address", "port_id", "vnic_id", "segment", "datapath_id", "port_no"],
        }]},
        "frame": {"oneOf": [{"type": "null"}, FRAME]},
        "hops": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "hop": {"type": "integer"},
                "parent": _NULLABLE_INT,
                "datapath_id": {"type": "string"},
                "in_port": {"type": "integer"},
                "frame": FRAME,
                "tables": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"table": {"type": "integer"}, "flow": {"oneOf": [{"type": "null"}, FLOW]}},
                    "required": ["table", "flow"],
                }},
                "outputs": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "port": {"type": "integer"},
                        "kind": {"type": "string", "enum": ["port", "link", "tunnel", "controller", "lost"]},
                        "next_hop": _NULLABLE_INT,
                        "frame": FRAME,
                        "to": {"oneOf": [{"type": "null"}, _SWITCH_PORT]},
                    },
                    "required": ["port", "kind", "next_hop", "frame", "to"],
                }},
            },
            "required": ["hop", "parent", "datapath_id", "in_port", "frame", "tables", "outputs"],
        }},
        "verdict": {
            "type": "object",
            "properties": {
                "outcome": {"type": "string", "enum": ["delivered", "dropped", "controller", "error"]},
                "rule": {"type": ["string", "null"], "enum": ["anti-spoofing", "isolation", "no binding",
                                                              "table miss", None]},
                "reason": {"type": "string"},
                "hop": _NULLABLE_INT,
                "datapath_id": _NULLABLE_STRING,
                "port_no": _NULLABLE_INT,
                "flow": {"oneOf": [{"type": "null"}, FLOW]},
            },
            "required": ["outcome", "rule", "reason", "hop", "datapath_id", "port_no", "flow"],
        },
    },
    "required": ["from", "to", "frame", "hops", "verdict"],
}
