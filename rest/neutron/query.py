"""Lists as Neutron answers them: filters on attributes (a repeated name is OR, different names AND),
`fields=`, `sort_key`/`sort_dir`, and `limit`/`marker`/`page_reverse` with `<collection>_links`
(neutron/api/api_common.py). An unknown filter or sort key is a 400 (Neutron's filter-validation);
an unknown field is ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from webob import Request

from sdnapp import errors

from .attrs import Converter, Resource, q_bool
from .faults import HTTPBadRequest

Item = dict[str, Any]
Matcher = Callable[[Item, list[object]], bool]
PAGING = ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse")


@dataclass
class ListQuery:
    filters: dict[str, list[object]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (attribute, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    items: list[tuple[str, str]] = field(default_factory=list)  # the query as given, for the page links


def fields_of(items: Sequence[tuple[str, str]]) -> list[str]:
    return list(dict.fromkeys(v for k, v in items if k == "fields" and v))


def parse(items: Sequence[tuple[str, str]], resource: Resource,
          special: Mapping[str, Converter] | None = None) -> ListQuery:
    """The list query of `items`; `special` adds filters that are no attribute (or convert otherwise)."""
    q = ListQuery(fields=fields_of(items), items=list(items))
    attrs = resource.by_name
    bad: list[str] = []
    for k, v in items:
        if k in PAGING:
            continue
        attr = attrs.get(k)
        convert = (special or {}).get(k) or (attr.query if attr is not None else None)
        if convert is None:
            bad.append(k)
            continue
        if v != "":  # an empty value filters nothing (Neutron without empty-string-filtering)
            q.filters.setdefault(k, []).append(convert(v))
    if bad:
        raise HTTPBadRequest(f"{sorted(set(bad))} is invalid attribute for filtering")
    if "tenant_id" in q.filters and "project_id" in q.filters:
        raise HTTPBadRequest("Both tenant_id and project_id passed as filters.")
    keys = [v for k, v in items if k == "sort_key"]
    dirs = [v for k, v in items if k == "sort_dir"]
    if len(keys) != len(dirs):
        raise HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
    bad = [k for k in keys if k not in attrs or not attrs[k].sort]
    if bad:
        raise HTTPBadRequest(f"{bad} is invalid attribute for sort_keys")
    bad = [d for d in dirs if d not in ("asc", "desc")]
    if bad:
        raise HTTPBadRequest(f"{bad} is invalid value for sort_dirs, valid value is 'asc' and 'desc'")
    q.sorts = [(k, d == "asc") for k, d in zip(keys, dirs, strict=True)]
    given = dict(items)  # the last of a repeated paging parameter, as WebOb's GET.get
    if "limit" in given:
        raw = given["limit"]
        if not raw.isdigit():
            raise HTTPBadRequest(f"Bad limit request: Limit must be an integer 0 or greater and not '{raw[:64]}'.")
        q.limit = int(raw) or None
    q.marker = given.get("marker") or None
    if "page_reverse" in given:
        q.page_reverse = bool(q_bool(given["page_reverse"]))
    return q


def plain(item: Item, name: str, wanted: list[object]) -> bool:
    """An attribute matches when its value (or, for a list, one of its values) is one of those wanted."""
    value = item.get(name)
    if isinstance(value, list):
        return any(v in wanted for v in value)
    return value in wanted and name in item


def _compare(sorts: list[tuple[str, bool]]) -> Callable[[Item, Item], int]:
    def cmp(a: Item, b: Item) -> int:
        for key, asc in sorts:
            x, y = _sortable(a.get(key)), _sortable(b.get(key))
            if x != y:
                return (-1 if x < y else 1) * (1 if asc else -1)
        return 0

    return cmp


def _sortable(v: Any) -> tuple[bool, Any]:
    return (v is not None, v if v is not None else 0)


@dataclass
class Page:
    items: list[Item]
    links: list[dict[str, str]]


def select(
    req: Request,
    everything: list[Item],
    q: ListQuery,
    matchers: Mapping[str, Matcher] | None = None,
    not_found: type[errors.NotFound] = errors.NotFound,
    hidden: set[str] | None = None,
) -> Page:
    """Filter, sort and page `everything` the caller may see, then drop the `hidden` attributes (as
    Neutron filters on its database, then leaves out what the caller's policy does not show) and keep
    the fields asked for."""
    matchers = matchers or {}
    found = [
        i for i in everything
        if all((matchers[k](i, vals) if k in matchers else plain(i, k, vals)) for k, vals in q.filters.items())
    ]
    sorts = list(q.sorts)
    if q.limit is not None and not any(k == "id" for k, _ in sorts):
        sorts.append(("id", True))  # pages need an order in which every item has its place
    cmp = _compare(sorts)
    if sorts:
        found.sort(key=functools.cmp_to_key(cmp))
    links: list[dict[str, str]] = []
    if q.limit is not None:
        if q.marker is not None:
            marker = next((i for i in everything if i.get("id") == q.marker), None)
            if marker is None:
                raise not_found(f"marker {q.marker[:64]} could not be found")
            found = [i for i in found if (cmp(i, marker) < 0 if q.page_reverse else cmp(i, marker) > 0)]
        found = found[-q.limit:] if q.page_reverse else found[:q.limit]
        links = _links(req, found, q)
    if hidden:
        found = [{k: v for k, v in i.items() if k not in hidden} for i in found]
    if q.fields:
        found = [{k: v for k, v in i.items() if k in q.fields} for i in found]
    return Page(found, links)


def _links(req: Request, page: list[Item], q: ListQuery) -> list[dict[str, str]]:
    """Neutron's `next` and `previous` links (api_common.get_pagination_links)."""
    assert q.limit is not None
    base = [(k, v) for k, v in q.items if k not in ("marker", "page_reverse")]
    out = []
    if page and not (len(page) < q.limit and not q.page_reverse):
        out.append({"rel": "next", "href": _href(req, base + [("marker", page[-1]["id"])])})
    if page and not (len(page) < q.limit and q.page_reverse):
        out.append({"rel": "previous",
                    "href": _href(req, base + [("marker", page[0]["id"]), ("page_reverse", "True")])})
    return out


def _href(req: Request, items: list[tuple[str, str]]) -> str:
    return f"{req.host_url}{req.script_name}{req.path_info.rstrip('/')}?{urlencode(items)}"


def only(item: Item, fields: list[str]) -> Item:
    """A shown item with the fields asked for (all without `fields=`)."""
    return {k: v for k, v in item.items() if k in fields} if fields else item
