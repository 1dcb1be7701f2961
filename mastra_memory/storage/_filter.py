"""The Mongo-style metadata filter language of the vector stores, parsed once and compiled per
backend. No I/O here.

Grammar (the subset the original's ``BaseFilterTranslator`` accepts, with MongoDB semantics)::

    filter    := {clause, ...}                       (clauses are ANDed)
    clause    := "field.path": value                 ($eq shorthand)
               | "field.path": {op: value, ...}      (operators ANDed)
               | "$and" | "$or" | "$nor": [filter, ...]
               | "$not": filter
    op        := $eq $ne $gt $gte $lt $lte $in $nin $exists $not

Semantics, identical on every backend (the conformance suite checks them):

* Values are JSON scalars (string, number, boolean, null). ``$in``/``$nin`` take lists of them.
* ``{"f": None}`` / ``$eq: None`` match a missing field or a JSON null; ``$ne``/``$nin`` match
  missing fields too (MongoDB's rules).
* ``$gt``/``$gte``/``$lt``/``$lte`` compare only within one type class (numbers with numbers,
  strings with strings); a field of another type, null or missing never matches.
* Booleans are not numbers: ``{"f": 1}`` does not match ``true``.
* Arrays are not part of the portable language: a filter on an array-valued field behaves as
  the backend does natively (element matching on MongoDB, whole-value comparison elsewhere).
* Field paths are dotted identifiers (``[A-Za-z_][A-Za-z0-9_]*`` per segment); anything else is
  rejected, which is what makes it safe to inline them into SQL JSON paths.

:func:`parse_filter` returns the AST; :func:`matches` evaluates it in Python (in-memory store,
MongoDB fallback tests); :func:`to_sqlite` and :func:`to_postgres` compile it to SQL over a
JSON metadata column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mastra_memory.errors import ValidationError

__all__ = [
    "And",
    "Cmp",
    "Exists",
    "FilterNode",
    "Not",
    "Or",
    "matches",
    "parse_filter",
    "to_mongo",
    "to_postgres",
    "to_sqlite",
]

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"^{_SEGMENT}(\.{_SEGMENT})*$")
_CMP_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
_RANGE_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Cmp:
    """``path op value`` (``value`` is a tuple for ``$in``/``$nin``)."""

    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Exists:
    path: str
    exists: bool


@dataclass(frozen=True)
class And:
    items: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    item: FilterNode


FilterNode = Cmp | Exists | And | Or | Not


# -- parsing --------------------------------------------------------------------------------------


def _scalar(value: Any, where: str) -> Scalar:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError(f"{where}: NaN and infinity are not JSON values")
        return value
    raise ValidationError(f"{where}: expected a JSON scalar, got {type(value).__name__}")


def _path(key: Any) -> str:
    if not isinstance(key, str) or len(key) > 256 or not _PATH.match(key):
        raise ValidationError(f"invalid filter field {key!r} (dotted identifiers only)")
    return key


def _field(path: str, cond: Any) -> FilterNode:
    if not isinstance(cond, Mapping) or not any(isinstance(k, str) and k.startswith("$") for k in cond):
        if isinstance(cond, Mapping):
            raise ValidationError(f"filter on {path!r}: nested objects are not values; use dotted paths")
        return Cmp(path, "$eq", _scalar(cond, path))
    nodes: list[FilterNode] = []
    for op, value in cond.items():
        if op in ("$in", "$nin"):
            if not isinstance(value, (list, tuple)):
                raise ValidationError(f"{path}: {op} needs a list")
            nodes.append(Cmp(path, op, tuple(_scalar(v, path) for v in value)))
        elif op in _CMP_OPS:
            scalar = _scalar(value, path)
            if op in _RANGE_OPS and (scalar is None or isinstance(scalar, bool)):
                raise ValidationError(f"{path}: {op} needs a number or a string")
            nodes.append(Cmp(path, op, scalar))
        elif op == "$exists":
            if not isinstance(value, bool):
                raise ValidationError(f"{path}: $exists needs true or false")
            nodes.append(Exists(path, value))
        elif op == "$not":
            if not isinstance(value, Mapping) or not value:
                raise ValidationError(f"{path}: $not needs an operator object")
            nodes.append(Not(_field(path, value)))
        else:
            raise ValidationError(f"unsupported filter operator {op!r} on {path!r}")
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def parse_filter(flt: Mapping[str, Any] | None) -> FilterNode | None:
    """Validate a Mongo-style filter and return its AST (``None`` for no filter).

    Raises:
        ValidationError: on an unknown operator, a bad field path or a non-scalar value.
    """
    if flt is None:
        return None
    if not isinstance(flt, Mapping):
        raise ValidationError("a vector filter must be a dict")
    nodes: list[FilterNode] = []
    for key, value in flt.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, (list, tuple)) or not value:
                raise ValidationError(f"{key} needs a non-empty list of filters")
            items = tuple(n for n in (parse_filter(v) for v in value) if n is not None)
            if key == "$and":
                nodes.append(And(items))
            elif key == "$or":
                nodes.append(Or(items))
            else:
                nodes.append(Not(Or(items)))
        elif key == "$not":
            inner = parse_filter(value)
            if inner is None:
                raise ValidationError("$not needs a filter")
            nodes.append(Not(inner))
        elif isinstance(key, str) and key.startswith("$"):
            raise ValidationError(f"unsupported top-level filter operator {key!r}")
        else:
            nodes.append(_field(_path(key), value))
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


# -- Python evaluation ----------------------------------------------------------------------------

_MISSING = object()


def _get(doc: Mapping[str, Any], path: str) -> Any:
    cur: Any = doc
    for seg in path.split("."):
        if not isinstance(cur, Mapping) or seg not in cur:
            return _MISSING
        cur = cur[seg]
    return cur


def _kind(value: Any) -> str:
    if value is None or value is _MISSING:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    return ka == kb and (ka == "null" or a == b)


def _cmp(node: Cmp, value: Any) -> bool:
    op, want = node.op, node.value
    if op == "$eq":
        return _equal(value, want)
    if op == "$ne":
        return not _equal(value, want)
    if op == "$in":
        return any(_equal(value, w) for w in want)
    if op == "$nin":
        return not any(_equal(value, w) for w in want)
    if _kind(value) != _kind(want) or _kind(value) not in ("number", "string"):
        return False
    if op == "$gt":
        return bool(value > want)
    if op == "$gte":
        return bool(value >= want)
    if op == "$lt":
        return bool(value < want)
    return bool(value <= want)


def matches(node: FilterNode | None, doc: Mapping[str, Any]) -> bool:
    """Evaluate a parsed filter against one metadata dict."""
    if node is None:
        return True
    if isinstance(node, Cmp):
        return _cmp(node, _get(doc, node.path))
    if isinstance(node, Exists):
        return (_get(doc, node.path) is not _MISSING) == node.exists
    if isinstance(node, And):
        return all(matches(n, doc) for n in node.items)
    if isinstance(node, Or):
        return any(matches(n, doc) for n in node.items)
    return not matches(node.item, doc)


def equality_terms(node: FilterNode | None) -> dict[str, Scalar]:
    """Top-level ``path == string`` conjuncts of a filter (used for index pre-filtering)."""
    if isinstance(node, Cmp) and node.op == "$eq" and isinstance(node.value, str):
        return {node.path: node.value}
    if isinstance(node, And):
        out: dict[str, Scalar] = {}
        for item in node.items:
            for k, v in equality_terms(item).items():
                out.setdefault(k, v)
        return out
    return {}


# -- SQL compilation ------------------------------------------------------------------------------


class _SqlDialect:
    """The three dialect-specific SQL pieces; :func:`_compile_sql` does the rest."""

    false = "0"

    def exists(self, path: str, want: bool) -> str:
        raise NotImplementedError

    def eq(self, path: str, value: Scalar, ps: list[Any]) -> str:
        raise NotImplementedError

    def range(self, path: str, sym: str, value: str | int | float, ps: list[Any]) -> str:
        raise NotImplementedError


class _Sqlite(_SqlDialect):
    def __init__(self, column: str) -> None:
        self.column = column

    def _val_typ(self, path: str) -> tuple[str, str]:
        jp = f"'$.{path}'"
        return f"json_extract({self.column}, {jp})", f"json_type({self.column}, {jp})"

    def exists(self, path: str, want: bool) -> str:
        _, typ = self._val_typ(path)
        return f"({typ} IS {'NOT ' if want else ''}NULL)"

    def eq(self, path: str, value: Scalar, ps: list[Any]) -> str:
        val, typ = self._val_typ(path)
        if value is None:
            return f"({typ} IS NULL OR {typ} = 'null')"
        if isinstance(value, bool):
            return f"({typ} = '{'true' if value else 'false'}')"
        ps.append(value)
        if isinstance(value, str):
            return f"{val} = ?"  # exactly the indexed expression
        return f"({typ} IN ('integer', 'real') AND {val} = ?)"

    def range(self, path: str, sym: str, value: str | int | float, ps: list[Any]) -> str:
        val, typ = self._val_typ(path)
        ps.append(value)
        kinds = "('text')" if isinstance(value, str) else "('integer', 'real')"
        return f"({typ} IN {kinds} AND {val} {sym} ?)"


class _Postgres(_SqlDialect):
    false = "FALSE"

    def __init__(self, column: str) -> None:
        self.column = column

    def _exprs(self, path: str) -> tuple[str, str, str]:
        segs = path.split(".")
        if len(segs) == 1:
            obj, txt = f"({self.column} -> '{segs[0]}')", f"({self.column} ->> '{segs[0]}')"
        else:
            key = "'{" + ",".join(segs) + "}'"
            obj, txt = f"({self.column} #> {key})", f"({self.column} #>> {key})"
        return obj, txt, f"jsonb_typeof{obj}"

    def exists(self, path: str, want: bool) -> str:
        obj, _, _ = self._exprs(path)
        return f"({obj} IS {'NOT ' if want else ''}NULL)"

    def eq(self, path: str, value: Scalar, ps: list[Any]) -> str:
        obj, txt, typ = self._exprs(path)
        if value is None:
            return f"({obj} IS NULL OR {typ} = 'null')"
        if isinstance(value, str):
            ps.append(value)
            return f"({txt} = %s AND {typ} = 'string')"  # uses the (metadata ->> 'f') index
        ps.append(json.dumps(value))
        return f"({obj} = %s::jsonb)"

    def range(self, path: str, sym: str, value: str | int | float, ps: list[Any]) -> str:
        _, txt, typ = self._exprs(path)
        ps.append(value)
        if isinstance(value, str):
            return f"({typ} = 'string' AND {txt} {sym} %s)"
        return f"({typ} = 'number' AND ({txt})::double precision {sym} %s)"


def _compile_sql(node: FilterNode, d: _SqlDialect, ps: list[Any]) -> str:
    f = d.false
    if isinstance(node, Exists):
        return d.exists(node.path, node.exists)
    if isinstance(node, Cmp):
        if node.op == "$eq":
            return d.eq(node.path, node.value, ps)
        if node.op == "$ne":  # NULL (missing field) must count as "not equal"
            return f"(NOT COALESCE({d.eq(node.path, node.value, ps)}, {f}))"
        if node.op == "$in":  # a plain OR of equalities, so the expression index serves each (a NULL
            # of a missing field is false here; the NOT above an $in wraps it in COALESCE)
            return "(" + " OR ".join([d.eq(node.path, v, ps) for v in node.value] or [f]) + ")"
        if node.op == "$nin":
            parts = [f"COALESCE({d.eq(node.path, v, ps)}, {f})" for v in node.value] or [f]
            return "(NOT (" + " OR ".join(parts) + "))"
        return d.range(node.path, _RANGE_OPS[node.op], node.value, ps)
    if isinstance(node, And):
        if not node.items:
            return f"(NOT {f})"
        return "(" + " AND ".join(_compile_sql(n, d, ps) for n in node.items) + ")"
    if isinstance(node, Or):
        if not node.items:
            return f"({f})"
        return "(" + " OR ".join(_compile_sql(n, d, ps) for n in node.items) + ")"
    # SQL's NULL (a missing field) must count as false before it is negated.
    return f"(NOT COALESCE({_compile_sql(node.item, d, ps)}, {f}))"


def to_sqlite(node: FilterNode | None, column: str = "metadata") -> tuple[str, list[Any]]:
    """Compile to an SQLite/libSQL ``WHERE`` fragment over a JSON text column (``?`` params).

    ``path == string`` compiles to ``json_extract(col, '$.path') = ?`` exactly, so expression
    indexes on ``json_extract(metadata, '$.thread_id')`` are used.

    Returns:
        ``(sql, params)``; ``("1=1", [])`` for no filter.
    """
    if node is None:
        return "1=1", []
    params: list[Any] = []
    return _compile_sql(node, _Sqlite(column), params), params


def to_postgres(node: FilterNode | None, column: str = "metadata") -> tuple[str, list[Any]]:
    """Compile to a PostgreSQL ``WHERE`` fragment over a ``jsonb`` column (``%s`` params).

    ``path == string`` compiles to ``(metadata ->> 'path') = %s`` so btree expression indexes on
    ``(metadata ->> 'thread_id')`` are used.
    """
    if node is None:
        return "TRUE", []
    params: list[Any] = []
    return _compile_sql(node, _Postgres(column), params), params


# -- MongoDB compilation --------------------------------------------------------------------------


def to_mongo(node: FilterNode | None, prefix: str = "metadata.") -> dict[str, Any]:
    """Compile to a MongoDB query document over fields under ``prefix``.

    Type-class rules are made explicit with ``$type`` so the result matches the other backends
    (MongoDB would otherwise compare ``1`` with ``true`` differently across versions).
    """
    if node is None:
        return {}

    def eq(path: str, v: Scalar) -> dict[str, Any]:
        if v is None:
            return {path: None}
        if isinstance(v, bool):
            return {path: {"$eq": v, "$type": "bool"}}
        if isinstance(v, (int, float)):
            return {path: {"$eq": v, "$type": "number"}}
        return {path: v}

    def build(n: FilterNode) -> dict[str, Any]:
        if isinstance(n, And):
            return {"$and": [build(i) for i in n.items]} if n.items else {}
        if isinstance(n, Or):
            return {"$or": [build(i) for i in n.items]} if n.items else {"_id": {"$exists": False}}
        if isinstance(n, Not):
            return {"$nor": [build(n.item)]}
        path = prefix + n.path
        if isinstance(n, Exists):
            return {path: {"$exists": n.exists}}
        if n.op == "$eq":
            return eq(path, n.value)
        if n.op == "$ne":
            return {"$nor": [eq(path, n.value)]}
        if n.op in ("$in", "$nin"):
            ors = [eq(path, v) for v in n.value]
            inner: dict[str, Any] = {"$or": ors} if ors else {"_id": {"$exists": False}}
            return inner if n.op == "$in" else {"$nor": [inner]}
        kind = "string" if isinstance(n.value, str) else "number"
        return {path: {n.op: n.value, "$type": kind}}

    return build(node)
