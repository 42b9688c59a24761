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
NETWORK_CREATE = _wrapped(
    "network",
    {
        "type": "object",
        "properties": {"name": _NAME, "address_prefix": {"type": ["string", "null"], "maxLength": 18}},
        "additionalProperties": False,
    },
)
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
    },
    "required": ["id", "tenant_id", "name", "address_prefix", "status"],
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
