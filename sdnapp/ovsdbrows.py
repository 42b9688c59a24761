"""What sdnapp keeps of a switch's Open vSwitch database, from OVSDB monitor updates (RFC 7047).

Pure: JSON in, small rows out. The `ovs` library's IDL kept every monitored row as
objects of its own, about 10 KB per interface (25 MiB for a bridge of 2,500 VM
interfaces, measured); sdnapp needs four columns of one table and a few of two
others, so it keeps each row as a small frozen value and drops the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The external_ids keys sdnapp reads (os-vif's): the rest of a VM's ids are not kept.
VIF_KEYS = frozenset({"iface-id", "iface-status", "attached-mac"})

# What sdnapp monitors: table -> columns.
MONITORED: dict[str, list[str]] = {
    "Interface": ["name", "type", "options", "external_ids"],
    "Bridge": ["name", "controller", "datapath_type"],
    "Controller": ["controller_rate_limit", "controller_burst_limit"],
}


class BadUpdate(ValueError):
    """A monitor update that does not follow RFC 7047's notation."""


def atom(value: Any) -> Any:
    """An atom: a string, number or boolean as is; a uuid as its string."""
    if isinstance(value, list):
        if len(value) == 2 and value[0] == "uuid" and isinstance(value[1], str):
            return value[1]
        raise BadUpdate(f"not an atom: {value!r}"[:200])
    if isinstance(value, (str, int, float, bool)):
        return value
    raise BadUpdate(f"not an atom: {value!r}"[:200])


def as_set(value: Any) -> tuple[Any, ...]:
    """A set column: one atom, or ["set", [atoms]]."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        if not isinstance(value[1], list):
            raise BadUpdate(f"not a set: {value!r}"[:200])
        return tuple(atom(v) for v in value[1])
    return (atom(value),)


def as_map(value: Any) -> dict[Any, Any]:
    """A map column: ["map", [[key, value], ...]]."""
    if not (isinstance(value, list) and len(value) == 2 and value[0] == "map" and isinstance(value[1], list)):
        raise BadUpdate(f"not a map: {value!r}"[:200])
    out = {}
    for pair in value[1]:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise BadUpdate(f"not a map pair: {pair!r}"[:200])
        out[atom(pair[0])] = atom(pair[1])
    return out


def as_optional(value: Any) -> Any:
    """A column of at most one atom (an empty set: None)."""
    got = as_set(value)
    if len(got) > 1:
        raise BadUpdate(f"more than one value: {value!r}"[:200])
    return got[0] if got else None


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    type: str
    options: tuple[tuple[str, str], ...]
    vif_ids: tuple[tuple[str, str], ...]  # external_ids, only the VIF_KEYS

    def row(self) -> dict[str, Any]:
        """As the tunnel check reads an interface."""
        return {"name": self.name, "type": self.type, "options": dict(self.options),
                "external_ids": dict(self.vif_ids)}


@dataclass(frozen=True, slots=True)
class Bridge:
    name: str
    controllers: tuple[str, ...]  # Controller uuids
    datapath_type: str


@dataclass(frozen=True, slots=True)
class Controller:
    rate_limit: int | None
    burst_limit: int | None


def _interface(new: Mapping[str, Any]) -> Interface:
    ext = as_map(new["external_ids"])
    return Interface(
        name=str(atom(new["name"])),
        type=str(atom(new["type"])),
        options=tuple(sorted((str(k), str(v)) for k, v in as_map(new["options"]).items())),
        vif_ids=tuple(sorted((str(k), str(v)) for k, v in ext.items() if k in VIF_KEYS)),
    )


def _bridge(new: Mapping[str, Any]) -> Bridge:
    return Bridge(str(atom(new["name"])), tuple(str(u) for u in as_set(new["controller"])),
                  str(atom(new["datapath_type"])))


def _controller(new: Mapping[str, Any]) -> Controller:
    return Controller(as_optional(new["controller_rate_limit"]), as_optional(new["controller_burst_limit"]))


_ROW = {"Interface": _interface, "Bridge": _bridge, "Controller": _controller}


@dataclass
class Tables:
    """The monitored rows by uuid, kept in step with monitor replies and `update` notifications."""

    interfaces: dict[str, Interface] = field(default_factory=dict)
    bridges: dict[str, Bridge] = field(default_factory=dict)
    controllers: dict[str, Controller] = field(default_factory=dict)

    def _table(self, name: str) -> dict[str, Any]:
        if name == "Interface":
            return self.interfaces
        return self.bridges if name == "Bridge" else self.controllers

    def apply(self, updates: Any) -> None:
        """Apply a <table-updates> object: every row of it, or (bad input) nothing."""
        if not isinstance(updates, dict):
            raise BadUpdate("table-updates is not an object")
        staged: list[tuple[str, str, Any]] = []
        for table, rows in updates.items():
            if table not in _ROW:
                raise BadUpdate(f"table {table!r} was not monitored")
            if not isinstance(rows, dict):
                raise BadUpdate(f"updates of {table} are not an object")
            for uuid, change in rows.items():
                if not isinstance(change, dict):
                    raise BadUpdate(f"update of {table} {uuid} is not an object")
                new = change.get("new")
                if new is None:
                    staged.append((table, uuid, None))
                    continue
                if not isinstance(new, dict):
                    raise BadUpdate(f"new row of {table} {uuid} is not an object")
                try:
                    staged.append((table, uuid, _ROW[table](new)))
                except KeyError as e:
                    raise BadUpdate(f"row of {table} {uuid} lacks column {e}") from None
        for table, uuid, row in staged:
            rows_of = self._table(table)
            if row is None:
                rows_of.pop(uuid, None)
            else:
                rows_of[uuid] = row

    def bridge(self, name: str) -> tuple[str, Bridge] | None:
        """The named bridge and its uuid."""
        return next(((u, b) for u, b in self.bridges.items() if b.name == name), None)

    def interface(self, name: str) -> tuple[str, Interface] | None:
        return next(((u, i) for u, i in self.interfaces.items() if i.name == name), None)
