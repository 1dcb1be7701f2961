"""``DynamoDBStore``: threads, messages and resources in one DynamoDB table (boto3).

The layout is @mastra/dynamodb's (ElectroDB service ``mastra``, entity version ``1``), so a table
written by Mastra's TypeScript packages reads here and the other way round:

======== ============================================ ======================================
entity   primary key ``pk`` / ``sk``                   ``gsi1pk`` / ``gsi1sk``
======== ============================================ ======================================
thread   ``$mastra#entity_thread#id_<id>``             ``$mastra#entity_thread#resourceid_<r>``
         ``$thread_1#id_<id>``                         ``$thread_1#createdat_<iso>``
message  ``$mastra#entity_message#id_<id>``            ``$mastra#entity_message#threadid_<t>``
         ``$message_1#entity_message``                 ``$message_1#createdat_<iso>``
resource ``$mastra#entity_resource#id_<id>``           (none)
         ``$resource_1#entity_resource``
======== ============================================ ======================================

ElectroDB lower-cases key values, so ids that differ only in case share a key: the store
refuses the second one (a :class:`ValidationError` naming the stored id) instead of mixing them.
Attributes are ElectroDB's: ``entity``, ``id``, ``threadId``, ``resourceId``, ``role``,
``type``, ``title``, ``workingMemory``, ``content`` and ``metadata`` as JSON text, ``createdAt``
and ``updatedAt`` as ISO-8601 text, ``__edb_e__``/``__edb_v__`` (ElectroDB's ownership marks).

Two entities of our own live in the same table (the TypeScript package has neither):

* observational memory: ``pk = $mastra#entity_om#lookupkey_<key>``,
  ``sk = $om_1#generation_<10 digits>``, the record as JSON in ``record``, its ``version`` and
  ``lastObservedAt`` beside it; a head is the partition's last item.
* key-value memory: ``pk = $mastra#entity_kv#namespace_<ns>``, ``sk = $kv_1#key_<key>`` (keys
  in code-point order, prefixes are ``begins_with`` ranges), ``value`` JSON text, ``expiresAt``
  (epoch milliseconds, exact, filtered on every read), ``ttl`` (epoch seconds, the table's TTL
  attribute, so DynamoDB deletes expired entries itself, late), ``rev`` (compare-and-set token).

Consistency: every write is conditional or transactional. ``create_thread`` is one conditional
put (``attribute_not_exists``); ``save_messages`` is ``TransactWriteItems`` (the thread updated
under an owner condition, each message put under a "same thread" condition), in chunks of at most
100 items and 4 MB (DynamoDB's limits), each chunk atomic; metadata merges, working memory,
observational-memory commits and key-value updates are optimistic compare-and-set loops. Reads
of single items are strongly consistent; listings go through ``gsi1``, and a global secondary
index is eventually consistent on AWS (moto and DynamoDB Local are immediate).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

from mastra_memory.errors import (
    ConcurrencyError,
    ConfigurationError,
    MastraMemoryError,
    MissingDependencyError,
    NoDataError,
    ResourceMismatchError,
    StorageError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage import om as _om
from mastra_memory.storage._rows import message_from_row
from mastra_memory.storage.base import (
    Direction,
    MemoryStorage,
    MessageQuery,
    PerPage,
    ThreadQuery,
    resolve_owners,
)
from mastra_memory.storage.kv import KVModifier, KVRow, KVStats
from mastra_memory.storage.records import MessageRef, ObservationalMemoryRecord
from mastra_memory.types import Message, Resource, Thread, construct, format_timestamp, now_utc

__all__ = ["DynamoDBStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Item = dict[str, Any]

MAX_TRANSACTION_ITEMS = 100
"""DynamoDB's limit of items per ``TransactWriteItems``."""
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
"""DynamoDB's limit of the total size of one transaction."""
MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's limit of one item (names and values)."""

_TXN_BUDGET = MAX_TRANSACTION_BYTES - 256 * 1024  # room for keys and attribute names
_THREAD_P = "$mastra#entity_thread#id_"
_MESSAGE_P = "$mastra#entity_message#id_"
_RESOURCE_P = "$mastra#entity_resource#id_"
_MSG_GSI_P = "$mastra#entity_message#threadid_"
_THREAD_GSI_P = "$mastra#entity_thread#resourceid_"
_MSG_SK = "$message_1#createdat_"
_THREAD_SK = "$thread_1#createdat_"
_OM_P = "$mastra#entity_om#lookupkey_"
_OM_SK = "$om_1#generation_"
_KV_P = "$mastra#entity_kv#namespace_"
_KV_SK = "$kv_1#key_"
_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
_RETRYABLE = {
    "TransactionConflictException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionInProgressException",
}


class _Conflict(Exception):
    """A compare-and-set lost; the caller reads again."""


class _Cancelled(Exception):
    """A transaction was cancelled by a failed condition; ``reasons`` has one code per item."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


# -- attribute values -------------------------------------------------------------------------


def _ser(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    if isinstance(value, dict):
        return {"M": {k: _ser(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_ser(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")  # pragma: no cover


def _de(value: dict[str, Any]) -> Any:
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return raw
    if kind == "N":
        return int(raw) if re.fullmatch(r"-?\d+", raw) else float(raw)
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _de(v) for k, v in raw.items()}
    if kind == "L":
        return [_de(v) for v in raw]
    return raw  # B, SS, NS, BS: not used by either side


def _to_item(values: Item) -> dict[str, Any]:
    return {k: _ser(v) for k, v in values.items() if v is not None}


def _from_item(raw: dict[str, Any]) -> Item:
    return {k: _de(v) for k, v in raw.items()}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{k}": _ser(v) for k, v in values.items()}


# -- keys ---------------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return format_timestamp(value)


def _parse(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    out = datetime.fromisoformat(text)
    out = out.replace(tzinfo=UTC) if out.tzinfo is None else out.astimezone(UTC)
    return out.replace(microsecond=out.microsecond // 1000 * 1000)


def _thread_key(thread_id: str) -> Item:
    low = thread_id.lower()
    return {"pk": _THREAD_P + low, "sk": "$thread_1#id_" + low}


def _message_key(message_id: str) -> Item:
    return {"pk": _MESSAGE_P + message_id.lower(), "sk": "$message_1#entity_message"}


def _resource_key(resource_id: str) -> Item:
    return {"pk": _RESOURCE_P + resource_id.lower(), "sk": "$resource_1#entity_resource"}


def _msg_sk(at: datetime) -> str:
    return _MSG_SK + _iso(at).lower()


def _om_pk(lookup_key: str) -> str:
    return _OM_P + lookup_key


def _kv_key(namespace: str, key: str) -> Item:
    return {"pk": _KV_P + namespace, "sk": _KV_SK + key}


def _thread_item(t: Thread) -> Item:
    return {
        **_thread_key(t.id),
        "gsi1pk": _THREAD_GSI_P + t.resource_id.lower(),
        "gsi1sk": _THREAD_SK + _iso(t.created_at).lower(),
        "entity": "thread",
        "id": t.id,
        "resourceId": t.resource_id,
        "title": t.title,
        "metadata": json.dumps(t.metadata, separators=(",", ":")),
        "createdAt": _iso(t.created_at),
        "updatedAt": _iso(t.updated_at),
        "__edb_e__": "thread",
        "__edb_v__": "1",
    }


_PART_CHARS = 80_000  # characters per overflow part: at most 320 KB of UTF-8
_PART_SK = "$message_1#part_"


def _part_key(message_id: str, n: int) -> Item:
    return {"pk": _MESSAGE_P + message_id.lower(), "sk": f"{_PART_SK}{n:04d}"}


def _message_keys(item: Item) -> list[Item]:
    """The keys of a stored message's item and its overflow parts."""
    return [_message_key(item["id"])] + [
        _part_key(item["id"], n) for n in range(1, int(item.get("contentParts") or 0) + 1)
    ]


def _message_items(m: Message, now: datetime) -> list[Item]:
    """The message's item, plus overflow parts when its content JSON is over 320 KB (DynamoDB
    items hold 400 KB): then ``content`` holds the first part and ``contentParts`` their count."""
    item = _message_item(m, now)
    content: str = item["content"]
    if len(content) <= _PART_CHARS or len(content.encode("utf-8")) <= 4 * _PART_CHARS:
        return [item]
    chunks = [content[i : i + _PART_CHARS] for i in range(0, len(content), _PART_CHARS)]
    item.update(content=chunks[0], contentParts=len(chunks) - 1, contentSize=len(content))
    parts = [
        {**_part_key(m.id, n), "entity": "message_part", "id": m.id, "content": chunk}
        for n, chunk in enumerate(chunks[1:], start=1)
    ]
    return [item, *parts]


def _message_item(m: Message, now: datetime) -> Item:
    return {
        **_message_key(m.id),
        "gsi1pk": _MSG_GSI_P + m.thread_id.lower(),
        "gsi1sk": _msg_sk(m.created_at),
        "entity": "message",
        "id": m.id,
        "threadId": m.thread_id,
        "resourceId": m.resource_id,
        "role": m.role,
        "type": m.type or "v2",
        "content": m.content_json(),
        "createdAt": _iso(m.created_at),
        "updatedAt": _iso(now),
        "__edb_e__": "message",
        "__edb_v__": "1",
    }


def _metadata(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _to_thread(item: Item) -> Thread:
    return construct(
        Thread,
        id=item["id"],
        resource_id=item["resourceId"],
        title=item.get("title") or "",
        metadata=_metadata(item.get("metadata")),
        created_at=_parse(item["createdAt"]),
        updated_at=_parse(item.get("updatedAt") or item["createdAt"]),
    )


def _to_message(item: Item) -> Message:
    content = item["content"]
    if not isinstance(content, str):
        content = json.dumps(content)
    return message_from_row(
        (
            item["id"],
            item["threadId"],
            item.get("resourceId"),
            item["role"],
            _parse(item["createdAt"]),
            content,
            item.get("type"),
        )
    )


def _to_resource(item: Item) -> Resource:
    return construct(
        Resource,
        id=item["id"],
        working_memory=item.get("workingMemory"),
        metadata=_metadata(item.get("metadata")),
        created_at=_parse(item["createdAt"]),
        updated_at=_parse(item.get("updatedAt") or item["createdAt"]),
    )


def _sort_key(item: Item) -> tuple[str, str]:
    return (item["createdAt"], item["id"])


def _sorted_messages(items: Iterable[Item]) -> list[Message]:
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item["id"], item)
    return [_to_message(i) for i in sorted(seen.values(), key=lambda i: (_parse(i["createdAt"]), i["id"]))]


def _utf8(text: str) -> int:
    return len(text) if len(text) < 256 else len(text.encode("utf-8"))


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _collision(kind: str, wanted: str, stored: str) -> ValidationError:
    return ValidationError(
        f"{kind} id {wanted!r} collides with the stored {kind} {stored!r}: @mastra/dynamodb keys are "
        "lower-case, so ids that differ only in case can not both exist"
    )


class DynamoDBStore(MemoryStorage):
    """Storage in one DynamoDB table with @mastra/dynamodb's single-table layout.

    Args:
        table_name: The table (3-255 characters of ``[a-zA-Z0-9_.-]``). :meth:`setup` creates
            it, with ``gsi1``, ``gsi2`` and TTL on ``ttl``, when it does not exist.
        region: AWS region (``None``: boto3's configuration, else ``us-east-1``).
        endpoint_url: Another endpoint (DynamoDB Local, moto, LocalStack), e.g.
            ``http://127.0.0.1:8000``. With an endpoint and no AWS credentials configured, dummy
            credentials are used (local servers accept any).
        client: A boto3 DynamoDB client you own (then ``region``/``endpoint_url`` are unused).
        max_retries: Attempts of a transaction that lost a conflict (20), with jittered
            exponential backoff from 5 ms to 0.5 s.
        billing_mode: For a table :meth:`setup` creates: ``"PAY_PER_REQUEST"`` (default).

    Raises:
        MissingDependencyError: if boto3 is not installed (extra ``[dynamodb]``).
        ValidationError: on a bad table name.
    """

    max_message_bytes = 3 * 1024 * 1024  # parts of 320 KB; one message fits one 4 MB transaction
    max_kv_value_bytes = 350 * 1024  # one item: DynamoDB items hold at most 400 KB

    def __init__(
        self,
        table_name: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        *,
        client: Any = None,
        max_retries: int = 20,
        billing_mode: str = "PAY_PER_REQUEST",
    ) -> None:
        if not isinstance(table_name, str) or not _TABLE_NAME.match(table_name):
            raise ValidationError(
                f"table_name must be 3-255 characters of letters, digits, '_', '.' and '-', got {table_name!r}"
            )
        try:
            import boto3
            import botocore.config
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise MissingDependencyError("boto3", "dynamodb") from exc
        self.table_name = table_name
        self.region = region
        self.endpoint_url = endpoint_url
        self.max_retries = max_retries
        self.billing_mode = billing_mode
        if client is None:
            session = boto3.session.Session(region_name=region)
            kwargs: dict[str, Any] = {
                "region_name": session.region_name or "us-east-1",
                "endpoint_url": endpoint_url,
                "config": botocore.config.Config(
                    retries={"mode": "standard", "max_attempts": 5},
                    connect_timeout=10,
                    read_timeout=120,  # a retried transaction that had succeeded fails its conditions
                    max_pool_connections=32,
                ),
            }
            if endpoint_url and session.get_credentials() is None:
                kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")
            client = session.client("dynamodb", **kwargs)
        self._client = client
        self._setup_lock = threading.Lock()
        self._ready = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> DynamoDBStore:
        """Build a store from ``dynamodb://TABLE?region=REGION&endpoint_url=URL`` (both query
        parameters optional); ``kwargs`` as for the constructor (``table_name`` included) and win
        over the URL.

        Raises:
            ConfigurationError: if the URL names no table or has unknown parameters.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "dynamodb":
            raise ConfigurationError(f"not a dynamodb:// URL: {url!r}")
        table = parts.netloc or parts.path.strip("/")
        if not table:
            raise ConfigurationError("a dynamodb:// URL names the table: dynamodb://TABLE?region=...")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"region", "endpoint_url"}
        if unknown:
            raise ConfigurationError(f"unknown dynamodb:// URL parameters: {', '.join(sorted(unknown))}")
        kwargs.setdefault("table_name", table)
        kwargs.setdefault("region", query.get("region"))
        kwargs.setdefault("endpoint_url", query.get("endpoint_url"))
        return cls(**kwargs)

    # -- lifecycle ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the table when missing (``pk``/``sk``, ``gsi1``, ``gsi2``, TTL on ``ttl``) and
        wait until it is active. Idempotent; a table created by someone else is used as is.

        Raises:
            StorageError: if DynamoDB can not be reached or the table can not be created.
        """
        with self._setup_lock:
            if self._ready:
                return
            try:
                if self._describe() is None:
                    self._create_table()
            except MastraMemoryError:
                raise
            except Exception as exc:
                raise StorageError(f"DynamoDB setup of table {self.table_name!r} failed: {exc}") from exc
            self._ready = True

    def _describe(self) -> dict[str, Any] | None:
        try:
            return self._client.describe_table(TableName=self.table_name)["Table"]  # type: ignore[no-any-return]
        except self._client.exceptions.ResourceNotFoundException:
            return None

    def _create_table(self) -> None:
        s = {"AttributeType": "S"}
        gsis: list[dict[str, Any]] = [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": f"{name}pk", "KeyType": "HASH"},
                    {"AttributeName": f"{name}sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name in ("gsi1", "gsi2")
        ]
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "AttributeDefinitions": [
                {"AttributeName": n, **s} for n in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
            ],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": gsis,
            "BillingMode": self.billing_mode,
        }
        if self.billing_mode == "PROVISIONED":
            units = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            args["ProvisionedThroughput"] = units
            for g in gsis:
                g["ProvisionedThroughput"] = units
        try:
            self._client.create_table(**args)
            logger.info("created DynamoDB table %s", self.table_name)
        except self._client.exceptions.ResourceInUseException:
            pass  # created concurrently
        self._client.get_waiter("table_exists").wait(
            TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        try:
            self._client.update_time_to_live(
                TableName=self.table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
            )
        except Exception as exc:  # already enabled (a concurrent setup) or not supported locally
            logger.debug("TTL on %s not enabled: %s", self.table_name, exc)

    def connect(self, *, create: bool = True) -> None:
        """Reach DynamoDB now; with ``create=False`` only check that the table exists, creating
        nothing (see :meth:`MemoryStorage.connect`).

        Raises:
            NoDataError: with ``create=False`` when the table does not exist.
            StorageError: if DynamoDB can not be reached.
        """
        if self._ready:
            return
        if create:
            self.setup()
            return
        try:
            table = self._describe()
        except Exception as exc:
            raise StorageError(f"could not reach DynamoDB: {exc}") from exc
        if table is None:
            raise NoDataError(f"no mastra-memory data in DynamoDB: table {self.table_name!r} does not exist")
        with self._setup_lock:
            self._ready = True

    def close(self) -> None:
        """Close the client's connections."""
        close = getattr(self._client, "close", None)
        if callable(close):
            close()
        self._ready = False

    def drop_table(self) -> None:
        """Delete the whole table and wait until it is gone. For tests."""
        try:
            self._client.delete_table(TableName=self.table_name)
            self._client.get_waiter("table_not_exists").wait(
                TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
        except self._client.exceptions.ResourceNotFoundException:
            pass
        self._ready = False

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import botocore.exceptions

        if not self._ready:
            self.setup()
        try:
            yield
        except MastraMemoryError:
            raise
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise StorageError(f"DynamoDB operation failed: {exc}") from exc

    def _get(self, key: Item, projection: str | None = None) -> Item | None:
        args: dict[str, Any] = {"TableName": self.table_name, "Key": _to_item(key), "ConsistentRead": True}
        if projection:
            args["ProjectionExpression"] = projection
        raw = self._client.get_item(**args).get("Item")
        return _from_item(raw) if raw else None

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        out: list[Item] = []
        unique = {(k["pk"], k["sk"]): k for k in keys}
        pending = [_to_item(k) for k in unique.values()]
        while pending:
            chunk, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.table_name: {"Keys": chunk, "ConsistentRead": True}}
            delay = 0.005
            while request:
                resp = self._client.batch_get_item(RequestItems=request)
                out += [_from_item(i) for i in resp.get("Responses", {}).get(self.table_name, [])]
                request = resp.get("UnprocessedKeys") or {}
                if request:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
        return out

    def _query(
        self,
        key_condition: str,
        values: dict[str, Any],
        *,
        index: str | None = None,
        forward: bool = True,
        projection: str | None = None,
        names: dict[str, str] | None = None,
        filter_expression: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Item]:
        """Every item of a query, following ``LastEvaluatedKey``; stop iterating to stop reading."""
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
        }
        if index:
            args["IndexName"] = index
        else:
            args["ConsistentRead"] = True
        if projection:
            args["ProjectionExpression"] = projection
        if names:
            args["ExpressionAttributeNames"] = names
        if filter_expression:
            args["FilterExpression"] = filter_expression
        if page_size:
            args["Limit"] = page_size
        while True:
            resp = self._client.query(**args)
            for raw in resp.get("Items", []):
                yield _from_item(raw)
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            args["ExclusiveStartKey"] = last

    def _count(
        self,
        key_condition: str,
        values: dict[str, Any],
        *,
        index: str | None = None,
        filter_expression: str | None = None,
    ) -> int:
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "Select": "COUNT",
        }
        if index:
            args["IndexName"] = index
        if filter_expression:
            args["FilterExpression"] = filter_expression
        total = 0
        while True:
            resp = self._client.query(**args)
            total += int(resp.get("Count", 0))
            last = resp.get("LastEvaluatedKey")
            if not last:
                return total
            args["ExclusiveStartKey"] = last

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """One ``TransactWriteItems`` (at most 100 items), retried on conflicts; a failed
        condition raises :class:`_Cancelled` with each item's reason code."""
        delay = 0.005
        for attempt in range(self.max_retries + 1):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons or attempt == self.max_retries:
                    if "ConditionalCheckFailed" not in reasons:
                        raise ConcurrencyError(f"DynamoDB transaction kept conflicting: {reasons}") from exc
                    raise _Cancelled(reasons) from exc
            except Exception as exc:
                code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
                if code not in _RETRYABLE or attempt == self.max_retries:
                    raise
            logger.debug("DynamoDB transaction conflict, retrying (attempt %d)", attempt + 1)
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)

    def _put(self, item: Item, condition: str | None = None, values: dict[str, Any] | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.table_name, "Item": _to_item(item)}
        if condition:
            op["ConditionExpression"] = condition
        if values:
            op["ExpressionAttributeValues"] = values
        return op

    def _conditional_put(self, item: Item, condition: str, values: dict[str, Any] | None = None) -> bool:
        """Put ``item`` if ``condition`` holds; False when it does not."""
        args = self._put(item, condition, values)
        try:
            self._client.put_item(**args)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _delete_keys(self, keys: list[Item]) -> None:
        """Delete items in transactions of at most 100 (each atomic; in order)."""
        for start in range(0, len(keys), MAX_TRANSACTION_ITEMS):
            chunk = keys[start : start + MAX_TRANSACTION_ITEMS]
            self._transact([{"Delete": {"TableName": self.table_name, "Key": _to_item(k)}} for k in chunk])

    @staticmethod
    def _backoff(delay: float) -> float:
        time.sleep(delay * (1 + random.random()))
        return min(delay * 2, 0.2)

    # -- threads --------------------------------------------------------------------------------

    def _thread_raw(self, thread_id: str) -> Item | None:
        return self._get(_thread_key(thread_id))

    def _get_thread(self, thread_id: str) -> Thread | None:
        with self._errors():
            item = self._thread_raw(thread_id)
        return _to_thread(item) if item is not None and item.get("id") == thread_id else None

    def _create_thread(self, thread: Thread) -> Thread:
        """One conditional put (``attribute_not_exists(pk)``): of two creators exactly one wins,
        and the owner of a stored thread never changes."""
        with self._errors():
            if not self._conditional_put(_thread_item(thread), "attribute_not_exists(pk)"):
                stored = self._thread_raw(thread.id)
                if stored is not None and stored.get("id") != thread.id:
                    raise _collision("thread", thread.id, stored["id"])
                raise ThreadConflictError(thread.id)
        return thread

    def _save_thread(self, thread: Thread) -> Thread:
        """Insert or replace, conditional on the stored thread (if any) having the same owner."""
        with self._errors():
            ok = self._conditional_put(
                _thread_item(thread),
                "attribute_not_exists(pk) OR (resourceId = :rid AND id = :id)",
                _values(rid=thread.resource_id, id=thread.id),
            )
            if not ok:
                stored = self._thread_raw(thread.id)
                if stored is None:
                    raise ConcurrencyError(f"thread {thread.id!r} changed while it was being saved")
                if stored.get("id") != thread.id:
                    raise _collision("thread", thread.id, stored["id"])
                raise ResourceMismatchError(thread.id, stored["resourceId"], thread.resource_id)
        return thread

    def _cas_update(
        self,
        key: Item,
        read: Item | None,
        fields: Item,
        watched: tuple[str, ...],
        create: Item | None = None,
    ) -> bool:
        """``SET fields`` where every ``watched`` attribute still holds what ``read`` had (or,
        when ``read`` is None, where the item does not exist, creating it with ``create`` too).
        False when another writer came first."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets = []
        for i, (name, value) in enumerate({**(create or {}), **fields}.items()):
            names[f"#f{i}"] = name
            values[f":f{i}"] = _ser(value)
            sets.append(f"#f{i} = :f{i}")
        if read is None:
            condition = "attribute_not_exists(pk)"
        else:
            parts = ["attribute_exists(pk)"]
            for i, name in enumerate(watched):
                names[f"#w{i}"] = name
                if read.get(name) is None:
                    parts.append(f"attribute_not_exists(#w{i})")
                else:
                    values[f":w{i}"] = _ser(read[name])
                    parts.append(f"#w{i} = :w{i}")
            condition = " AND ".join(parts)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_to_item(key),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        delay = 0.005
        with self._errors():
            for _ in range(200):
                item = self._thread_raw(thread_id)
                if item is None or item.get("id") != thread_id:
                    raise ThreadNotFoundError(thread_id)
                fields: Item = {"updatedAt": _iso(now)}
                if title is not None:
                    fields["title"] = title
                if metadata:
                    merged = {**_metadata(item.get("metadata")), **metadata}
                    fields["metadata"] = json.dumps(merged, separators=(",", ":"))
                if self._cas_update(_thread_key(thread_id), item, fields, ("id", "metadata")):
                    return _to_thread({**item, **fields})
                delay = self._backoff(delay)
        raise ConcurrencyError(f"thread {thread_id!r} kept changing during an update")

    def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        """One conditional ``UpdateItem``: the item exists under this exact id (keys are
        case-folded) and its title is missing, NULL or empty."""
        condition = (
            "attribute_exists(pk) AND #id = :id AND "
            "(attribute_not_exists(#t) OR attribute_type(#t, :null) OR #t = :empty)"
        )
        with self._errors():
            try:
                self._client.update_item(
                    TableName=self.table_name,
                    Key=_to_item(_thread_key(thread_id)),
                    UpdateExpression="SET #t = :title, #u = :now",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#id": "id", "#t": "title", "#u": "updatedAt"},
                    ExpressionAttributeValues={
                        ":id": _ser(thread_id),
                        ":title": _ser(title),
                        ":now": _ser(_iso(now)),
                        ":empty": _ser(""),
                        ":null": {"S": "NULL"},
                    },
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def _thread_messages(
        self,
        thread_id: str,
        *,
        forward: bool = True,
        after: datetime | None = None,
        at_or_after: datetime | None = None,
        at_or_before: datetime | None = None,
        projection: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Item]:
        """Messages of one thread in ``createdAt`` order from ``gsi1`` (ties unordered)."""
        values = {":p": _ser(_MSG_GSI_P + thread_id.lower())}
        lo = _msg_sk(after) if after is not None else _msg_sk(at_or_after) if at_or_after is not None else None
        hi = _msg_sk(at_or_before) if at_or_before is not None else None
        if lo is not None and hi is not None and after is None:
            cond = "gsi1pk = :p AND gsi1sk BETWEEN :lo AND :hi"
            values.update({":lo": _ser(lo), ":hi": _ser(hi)})
        elif lo is not None:
            cond = f"gsi1pk = :p AND gsi1sk {'>' if after is not None else '>='} :lo"
            values[":lo"] = _ser(lo)
        elif hi is not None:
            cond = "gsi1pk = :p AND gsi1sk <= :hi"
            values[":hi"] = _ser(hi)
        else:
            cond = "gsi1pk = :p AND begins_with(gsi1sk, :b)"
            values[":b"] = _ser(_MSG_SK)
        for item in self._query(
            cond, values, index="gsi1", forward=forward, projection=projection, page_size=page_size
        ):
            if item.get("threadId") == thread_id:
                if hi is not None and after is not None and item["gsi1sk"] > hi:
                    return
                yield item

    def _delete_thread(self, thread_id: str) -> None:
        with self._errors():
            keys = [
                k
                for i in self._thread_messages(thread_id, projection="id, threadId, gsi1sk, contentParts")
                for k in _message_keys(i)
            ]
            keys += [
                {"pk": i["pk"], "sk": i["sk"]}
                for i in self._query("pk = :p", _values(p=_om_pk(f"thread:{thread_id}")), projection="pk, sk")
            ]
            thread = self._thread_raw(thread_id)
            if thread is not None and thread.get("id") == thread_id:
                keys.append(_thread_key(thread_id))  # last: a cut-off delete leaves no orphans
            self._delete_keys(keys)

    def _resource_threads(self, resource_id: str) -> list[Item]:
        return [
            t
            for t in self._query(
                "gsi1pk = :p AND begins_with(gsi1sk, :b)",
                _values(p=_THREAD_GSI_P + resource_id.lower(), b=_THREAD_SK),
                index="gsi1",
            )
            if t.get("resourceId") == resource_id and t.get("entity") == "thread"
        ]

    def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        with self._errors():
            if query.resource_id is not None:
                items = self._resource_threads(query.resource_id)
            else:
                items = self._scan_entity("thread")
        threads = [_to_thread(i) for i in items]
        if query.metadata:
            threads = [t for t in threads if all(t.metadata.get(k) == v for k, v in query.metadata.items())]
        field = query.order_by
        threads.sort(key=lambda t: (getattr(t, field), t.id), reverse=query.direction == "DESC")
        total = len(threads)
        if query.per_page is not False:
            threads = threads[query.offset : query.offset + query.per_page]
        return threads, total

    def _scan_entity(self, entity: str) -> list[Item]:
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#e = :e",
            "ExpressionAttributeNames": {"#e": "entity"},
            "ExpressionAttributeValues": _values(e=entity),
        }
        out: list[Item] = []
        while True:
            resp = self._client.scan(**args)
            out += [_from_item(i) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return out
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- messages -------------------------------------------------------------------------------

    def _chunks(self, fixed: list[dict[str, Any]], ops: list[tuple[dict[str, Any], int]]) -> Iterator[list[Any]]:
        """Split ``ops`` (operation, approximate bytes) into transactions that also carry the
        ``fixed`` operations, within DynamoDB's 100 items and 4 MB."""
        room = MAX_TRANSACTION_ITEMS - len(fixed)
        chunk: list[dict[str, Any]] = []
        size = 0
        for op, n in ops:
            if chunk and (len(chunk) >= room or size + n > _TXN_BUDGET):
                yield fixed + chunk
                chunk, size = [], 0
            chunk.append(op)
            size += n
        if chunk:
            yield fixed + chunk

    def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        thread_ids = sorted({m.thread_id for m in messages})
        with self._errors():
            # the threads and the messages' current items in one BatchGetItem
            found = self._batch_get([_thread_key(t) for t in thread_ids] + [_message_key(m.id) for m in messages])
            owners = {i["id"]: i["resourceId"] for i in found if i.get("entity") == "thread" and i["id"] in thread_ids}
            stored = resolve_owners(messages, owners)
            found_messages = [i for i in found if i.get("entity") == "message"]
            existing = {i["id"]: i["threadId"] for i in found_messages}
            old_parts = {i["id"]: int(i.get("contentParts") or 0) for i in found_messages}
            wanted = {m.id.lower(): m for m in stored}
            for low_id, thread in ((k.lower(), v) for k, v in existing.items()):
                m = wanted.get(low_id)
                if m is None:
                    continue
                stored_id = next(k for k in existing if k.lower() == low_id)
                if stored_id != m.id:
                    raise _collision("message", m.id, stored_id)
                if thread != m.thread_id:
                    raise ValidationError(f"message id {m.id!r} already exists in another thread")
            stored = _om.restamp_after_cursor(stored, set(existing), self._om_floors(owners))
            self._write_messages(stored, owners, now, old_parts)
        new_ids = {m.id for m in stored} - set(existing)
        return self._settle_after_cursor(stored, new_ids, owners)

    def _write_messages(
        self, stored: list[Message], owners: dict[str, str], now: datetime, old_parts: dict[str, int]
    ) -> None:
        by_thread: dict[str, list[Message]] = {}
        for m in stored:
            by_thread.setdefault(m.thread_id, []).append(m)
        for thread_id, batch in by_thread.items():
            bump = {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _to_item(_thread_key(thread_id)),
                    "UpdateExpression": "SET updatedAt = :now",
                    "ConditionExpression": "id = :tid AND resourceId = :rid",
                    "ExpressionAttributeValues": _values(now=_iso(now), tid=thread_id, rid=owners[thread_id]),
                }
            }
            ops = []
            for m in batch:
                item, *parts = _message_items(m, now)
                put = self._put(
                    item,
                    "attribute_not_exists(pk) OR (threadId = :tid AND id = :id)",
                    _values(tid=m.thread_id, id=m.id),
                )
                ops += [({"Put": self._put(p)}, _utf8(p["content"]) + 256) for p in parts]  # parts before the item
                ops.append(({"Put": put}, _utf8(item["content"]) + 1024))
                ops += [
                    ({"Delete": {"TableName": self.table_name, "Key": _to_item(_part_key(m.id, n))}}, 256)
                    for n in range(len(parts) + 1, old_parts.get(m.id, 0) + 1)
                ]
            for txn in self._chunks([bump], ops):
                try:
                    self._transact(txn)
                except _Cancelled as exc:
                    self._explain(exc, txn, thread_id, owners[thread_id])

    def _explain(self, exc: _Cancelled, txn: list[dict[str, Any]], thread_id: str, owner: str) -> None:
        """Turn a cancelled message transaction into the library's error."""
        if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
            item = self._thread_raw(thread_id)
            if item is None or item.get("id") != thread_id:
                raise ThreadNotFoundError(thread_id) from exc
            raise ResourceMismatchError(thread_id, item["resourceId"], owner) from exc
        for reason, op in zip(exc.reasons, txn, strict=False):
            if reason == "ConditionalCheckFailed" and "Put" in op:
                mid = _de(op["Put"]["Item"]["id"])
                raise ValidationError(f"message id {mid!r} already exists in another thread") from exc
        raise ConcurrencyError(f"DynamoDB cancelled the transaction: {exc}") from exc

    def _page(
        self,
        thread_ids: tuple[str, ...],
        query: MessageQuery,
    ) -> tuple[list[Item], int]:
        forward = query.direction == "ASC"
        start, end = query.start, query.end
        if query.per_page is False:
            items = [i for t in thread_ids for i in self._thread_messages(t, at_or_after=start, at_or_before=end)]
            return items, len(items)
        need = query.offset + query.per_page
        gathered: list[Item] = []
        exhausted = True
        for t in thread_ids:
            got: list[Item] = []
            for item in self._thread_messages(
                t, forward=forward, page_size=min(need + 2, 1000), at_or_after=start, at_or_before=end
            ):
                if len(got) >= need and item["createdAt"] != got[-1]["createdAt"]:
                    exhausted = False
                    break
                got.append(item)
            gathered += got
        gathered.sort(key=_sort_key, reverse=not forward)
        page = gathered[query.offset : need]
        if query.page == 0 and exhausted and len(gathered) <= need:
            return page, len(gathered)
        return page, sum(self._count_messages(t, query) for t in thread_ids)

    def _count_messages(self, thread_id: str, query: MessageQuery) -> int:
        """Messages of the thread within the query's time bounds, counted by DynamoDB
        (``Select=COUNT`` on ``gsi1``; the ``threadId`` filter keeps ids of another case out)."""
        values = _values(p=_MSG_GSI_P + thread_id.lower(), t=thread_id)
        if query.start is not None or query.end is not None:
            values.update(
                _values(
                    lo=_msg_sk(query.start) if query.start else _MSG_SK,
                    hi=_msg_sk(query.end) if query.end else _MSG_SK + "~",
                )
            )
            cond = "gsi1pk = :p AND gsi1sk BETWEEN :lo AND :hi"
        else:
            values.update(_values(b=_MSG_SK))
            cond = "gsi1pk = :p AND begins_with(gsi1sk, :b)"
        return self._count(cond, values, index="gsi1", filter_expression="threadId = :t")

    def _neighbours(self, hit: Item, count: int, forward: bool) -> list[Item]:
        """Up to ``count`` messages right after (``forward``) or before ``hit`` in its thread."""
        at = _parse(hit["createdAt"])
        mark = _sort_key(hit)
        got: list[Item] = []
        lo, hi = (at, None) if forward else (None, at)
        for item in self._thread_messages(
            hit["threadId"], forward=forward, page_size=count + 4, at_or_after=lo, at_or_before=hi
        ):
            key = _sort_key(item)
            if (key <= mark) if forward else (key >= mark):
                continue
            if len(got) >= count and item["createdAt"] != got[-1]["createdAt"]:
                break
            got.append(item)
        got.sort(key=_sort_key, reverse=not forward)
        return got[:count]

    def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        items: list[Item] = []
        with self._errors():
            if query.per_page is False or query.per_page > 0:
                items, total = self._page(query.thread_ids, query)
            else:
                total = sum(self._count_messages(t, query) for t in query.thread_ids)
            if query.include:
                hits = {i["id"]: i for i in self._by_ids([s.id for s in query.include])}
                items += hits.values()
                for spec in query.include:
                    hit = hits.get(spec.id)
                    if hit is None:
                        continue
                    if spec.with_previous_messages:
                        items += self._neighbours(hit, spec.with_previous_messages, forward=False)
                    if spec.with_next_messages:
                        items += self._neighbours(hit, spec.with_next_messages, forward=True)
        return self._messages(items), total

    def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]:
        with self._errors():
            items = [
                i
                for t in self._resource_threads(resource_id)
                for i in self._thread_messages(t["id"])
                if i.get("resourceId") == resource_id
            ]
        items.sort(key=_sort_key, reverse=direction == "DESC")
        total = len(items)
        if per_page is not False:
            items = items[page * per_page : (page + 1) * per_page]
        return self._messages(items), total

    def _by_ids(self, message_ids: list[str]) -> list[Item]:
        wanted = set(message_ids)
        return [
            i
            for i in self._batch_get([_message_key(m) for m in message_ids])
            if i.get("entity") == "message" and i.get("id") in wanted
        ]

    def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        with self._errors():
            return self._messages(self._by_ids(message_ids))

    def _messages(self, items: list[Item]) -> list[Message]:
        """Messages of ``items`` (deduplicated, oldest first), overflow parts joined back in."""
        parted = [i for i in items if i.get("contentParts")]
        if parted:
            parts = {
                (p["id"], p["sk"]): p["content"]
                for p in self._batch_get([k for i in parted for k in _message_keys(i)[1:]])
                if p.get("entity") == "message_part"
            }
            for i in parted:
                tail = [parts.get((i["id"], k["sk"])) for k in _message_keys(i)[1:]]
                if any(t is None for t in tail):
                    raise StorageError(f"message {i['id']!r} is missing overflow parts")
                i["content"] = i["content"] + "".join(t for t in tail if t is not None)
        return _sorted_messages(items)

    def _delete_messages(self, message_ids: list[str]) -> int:
        """Delete in transactions of at most 100 items, each message's item conditional on
        existing, so a message deleted meanwhile (a concurrent pop) is not counted: its
        transaction is cancelled and the rest of the chunk runs again without it."""
        deleted = 0
        with self._errors():
            pending = self._by_ids(message_ids)
            while pending:
                chunk: list[Item] = []
                size = 0
                for item in pending:
                    n_keys = len(_message_keys(item))
                    if chunk and size + n_keys > MAX_TRANSACTION_ITEMS:
                        break
                    chunk.append(item)
                    size += n_keys
                ops: list[dict[str, Any]] = []
                for item in chunk:
                    for n, key in enumerate(_message_keys(item)):
                        op: dict[str, Any] = {"TableName": self.table_name, "Key": _to_item(key)}
                        if n == 0:
                            op["ConditionExpression"] = "attribute_exists(pk)"
                        ops.append({"Delete": op})
                try:
                    self._transact(ops)
                except _Cancelled as exc:
                    gone: set[str] = set()
                    at = 0
                    for item in chunk:
                        if at < len(exc.reasons) and exc.reasons[at] == "ConditionalCheckFailed":
                            gone.add(item["id"])
                        at += len(_message_keys(item))
                    if not gone:  # pragma: no cover - a cancel names the failed condition
                        raise
                    pending = [i for i in pending if i["id"] not in gone]
                    continue
                deleted += len(chunk)
                pending = pending[len(chunk) :]
        return deleted

    def _last_created_at(self, thread_id: str) -> datetime | None:
        with self._errors():
            newest: Item | None = None
            for item in self._thread_messages(thread_id, forward=False, projection="id, threadId, createdAt"):
                if newest is not None and item["createdAt"] != newest["createdAt"]:
                    break
                newest = item
        return _parse(newest["createdAt"]) if newest else None

    # -- erasure (the algorithm is the base class's; see mastra_memory.storage.lifecycle) -------

    def _delete_resource_row(self, resource_id: str) -> None:
        with self._errors():
            item = self._resource_raw(resource_id)
            if item is not None and item.get("id") == resource_id:  # keys are case-folded
                self._delete_keys([_resource_key(resource_id)])

    # -- resources ------------------------------------------------------------------------------

    def _resource_raw(self, resource_id: str) -> Item | None:
        return self._get(_resource_key(resource_id))

    def _get_resource(self, resource_id: str) -> Resource | None:
        with self._errors():
            item = self._resource_raw(resource_id)
        return _to_resource(item) if item is not None and item.get("id") == resource_id else None

    @staticmethod
    def _resource_item(resource: Resource) -> Item:
        return {
            **_resource_key(resource.id),
            "entity": "resource",
            "id": resource.id,
            "workingMemory": resource.working_memory,
            "metadata": json.dumps(resource.metadata, separators=(",", ":")),
            "createdAt": _iso(resource.created_at),
            "updatedAt": _iso(resource.updated_at),
            "__edb_e__": "resource",
            "__edb_v__": "1",
        }

    def _save_resource(self, resource: Resource) -> Resource:
        with self._errors():
            ok = self._conditional_put(
                self._resource_item(resource), "attribute_not_exists(pk) OR id = :id", _values(id=resource.id)
            )
            if not ok:
                stored = self._resource_raw(resource.id)
                raise _collision("resource", resource.id, (stored or {}).get("id", "?"))
        return resource

    def _resource_change(
        self,
        resource_id: str,
        change: Callable[[Item | None], Item | None],
        now: datetime,
    ) -> Item:
        """Compare-and-set loop on a resource: ``change(stored or None)`` returns the fields to
        set (None: nothing to do); the row is created when missing."""
        delay = 0.005
        for _ in range(200):
            item = self._resource_raw(resource_id)
            if item is not None and item.get("id") != resource_id:
                raise _collision("resource", resource_id, item["id"])
            fields = change(item)
            if fields is None:
                return item or {}
            fields = {**fields, "updatedAt": _iso(now)}
            create = None
            if item is None:
                create = {
                    "entity": "resource",
                    "id": resource_id,
                    "metadata": "{}",
                    "createdAt": _iso(now),
                    "__edb_e__": "resource",
                    "__edb_v__": "1",
                }
            if self._cas_update(_resource_key(resource_id), item, fields, ("id", "metadata", "workingMemory"), create):
                return {**(create or {}), **(item or {}), **fields}
            delay = self._backoff(delay)
        raise ConcurrencyError(f"resource {resource_id!r} kept changing during an update")

    def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        def change(item: Item | None) -> Item:
            fields: Item = {}
            if working_memory is not None:
                fields["workingMemory"] = working_memory
            merged = {**_metadata((item or {}).get("metadata")), **(metadata or {})}
            fields["metadata"] = json.dumps(merged, separators=(",", ":"))
            return fields

        with self._errors():
            return _to_resource(self._resource_change(resource_id, change, now))

    def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        """Compare-and-set on the stored value (thread metadata or the resource's
        ``workingMemory``): read, compute, write only where it is unchanged; read again on a lost
        race. Atomic across processes."""
        result: list[str | None] = [None]
        with self._errors():
            if scope == "resource":

                def change(item: Item | None) -> Item | None:
                    raw = (item or {}).get("workingMemory")
                    current = raw if isinstance(raw, str) else None
                    new = fn(current)
                    result[0] = current
                    if new is None or new == current:
                        return None
                    result[0] = new
                    return {"workingMemory": new}

                self._resource_change(key, change, now)
                return result[0]
            delay = 0.005
            for _ in range(200):
                item = self._thread_raw(key)
                if item is None or item.get("id") != key:
                    raise ThreadNotFoundError(key)
                meta = _metadata(item.get("metadata"))
                raw = meta.get("workingMemory")
                current = raw if isinstance(raw, str) else None
                new = fn(current)
                if new is None or new == current:
                    return current
                fields = {
                    "metadata": json.dumps({**meta, "workingMemory": new}, separators=(",", ":")),
                    "updatedAt": _iso(now),
                }
                if self._cas_update(_thread_key(key), item, fields, ("id", "metadata")):
                    return new
                delay = self._backoff(delay)
        raise ConcurrencyError(f"working memory of thread {key!r} kept changing")

    # -- clone ----------------------------------------------------------------------------------

    def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        """The thread and its messages in one transaction when they fit DynamoDB's limits (99
        messages and 4 MB); larger clones are written in several, thread first, and what was
        written is deleted again if a later one fails."""
        now = now_utc()
        create = {"Put": self._put(_thread_item(thread), "attribute_not_exists(pk)")}
        ops = [
            ({"Put": self._put(item, "attribute_not_exists(pk)")}, _utf8(item["content"]) + 1024)
            for m in messages
            for item in _message_items(m, now)
        ]
        with self._errors():
            done: list[Item] = []
            txns = list(self._chunks([], [(create, 1024), *ops]))
            try:
                for txn in txns:
                    try:
                        self._transact(txn)
                    except _Cancelled as exc:
                        if txn[0] is create and exc.reasons[0] == "ConditionalCheckFailed":
                            stored = self._thread_raw(thread.id)
                            if stored is not None and stored.get("id") != thread.id:
                                raise _collision("thread", thread.id, stored["id"]) from exc
                            raise ThreadConflictError(thread.id) from exc
                        raise ValidationError("a cloned message id exists already") from exc
                    done += [{"pk": _de(op["Put"]["Item"]["pk"]), "sk": _de(op["Put"]["Item"]["sk"])} for op in txn]
            except BaseException:
                if done:
                    logger.warning("clone of %s failed midway; deleting the %d items written", thread.id, len(done))
                    self._delete_keys(done[1:] + done[:1])  # messages first, then the thread
                raise
        return thread

    # -- observational memory -------------------------------------------------------------------
    #
    # Every generation is one item (sk ordered by generation); a commit is a transaction of
    # conditional puts: an updated head only where its ``version`` is still the one read, a new
    # generation only where none with that number exists. Lost races read again and re-run the
    # pure mutation (mastra_memory.storage.om).

    def _om_items(self, lookup_key: str, newest_first: bool = True) -> Iterator[Item]:
        return self._query(
            "pk = :p AND begins_with(sk, :b)", _values(p=_om_pk(lookup_key), b=_OM_SK), forward=not newest_first
        )

    def _om_head_item(self, lookup_key: str) -> Item | None:
        return next(iter(self._om_items(lookup_key)), None)

    @staticmethod
    def _om_record(item: Item) -> ObservationalMemoryRecord:
        return ObservationalMemoryRecord.model_validate_json(item["record"])

    def _om_head(self, lookup_key: str) -> ObservationalMemoryRecord | None:
        with self._errors():
            item = self._om_head_item(lookup_key)
        return self._om_record(item) if item else None

    def _om_history(self, lookup_key: str, limit: int | Literal[False], offset: int) -> list[ObservationalMemoryRecord]:
        out: list[ObservationalMemoryRecord] = []
        with self._errors():
            for n, item in enumerate(self._om_items(lookup_key)):
                if n < offset:
                    continue
                if limit is not False and len(out) >= limit:
                    break
                out.append(self._om_record(item))
        return out

    def _refs(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None, limit: int | None
    ) -> list[MessageRef]:
        if thread_ids is None:
            thread_ids = tuple(t["id"] for t in self._resource_threads(resource_id or ""))
        items: list[Item] = []
        for tid in thread_ids:
            got: list[Item] = []
            for item in self._thread_messages(
                tid, after=after, projection="id, threadId, createdAt, content, contentSize, gsi1sk"
            ):
                if limit is not None and len(got) >= limit and item["createdAt"] != got[-1]["createdAt"]:
                    break
                got.append(item)
            items += got
        items.sort(key=_sort_key)
        if limit is not None:
            items = items[:limit]
        return [
            MessageRef(
                i["id"], i["threadId"], _parse(i["createdAt"]), int(i.get("contentSize") or len(i.get("content") or ""))
            )
            for i in items
        ]

    def _list_message_refs(
        self,
        thread_ids: tuple[str, ...] | None,
        resource_id: str | None,
        after: datetime | None,
        limit: int | None,
    ) -> list[MessageRef]:
        with self._errors():
            return self._refs(thread_ids, resource_id, after, limit)

    def _om_put(self, record: ObservationalMemoryRecord, head: ObservationalMemoryRecord | None) -> dict[str, Any]:
        body = record.model_dump_json(by_alias=True)
        if len(body.encode("utf-8")) > MAX_ITEM_BYTES - 8 * 1024:
            raise StorageError(
                f"observational memory record {record.lookup_key!r} is {len(body)} bytes, over DynamoDB's "
                "400 KB item limit: reflect (condense) it with a lower reflection threshold"
            )
        item = {
            "pk": _om_pk(record.lookup_key),
            "sk": f"{_OM_SK}{record.generation_count:010d}",
            "entity": "observational_memory",
            "id": record.id,
            "lookupKey": record.lookup_key,
            "generationCount": record.generation_count,
            "version": record.version,
            "lastObservedAt": _iso(record.last_observed_at) if record.last_observed_at else None,
            "record": body,
        }
        if head is not None and record.id == head.id:
            return {"Put": self._put(item, "id = :id AND version = :v", _values(id=head.id, v=head.version))}
        return {"Put": self._put(item, "attribute_not_exists(pk)")}

    def _om_update(self, lookup_key: str, mutation: _om.Mutation[T]) -> T:
        scope, _, ident = lookup_key.partition(":")

        def walk(after: datetime | None, limit: int) -> list[MessageRef]:
            if scope == "thread":
                return self._refs((ident,), None, after, limit)
            return self._refs(None, ident, after, limit)

        delay = 0.005
        with self._errors():
            for attempt in range(self.max_retries * 10 + 1):
                item = self._om_head_item(lookup_key)
                head = self._om_record(item) if item else None
                records, result = mutation(_om.OMView(lookup_key, head, walk, now_utc()))
                if not records:
                    return result
                try:
                    self._transact([self._om_put(r, head) for r in records])
                    return result
                except _Cancelled:
                    logger.debug("observational memory compare-and-set lost (attempt %d)", attempt + 1)
                    delay = self._backoff(delay)
        raise ConcurrencyError(f"observational memory record {lookup_key!r} kept changing")

    def _om_delete(self, lookup_key: str) -> None:
        with self._errors():
            self._delete_keys([{"pk": i["pk"], "sk": i["sk"]} for i in self._om_items(lookup_key)])

    def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        """Superseded generations created before the cutoff, found by a scan of the
        observational-memory items (no index orders them by age; the record's ``createdAt`` is in
        its JSON). A generation below its record's newest stays below it (generations only
        grow), so a head is never deleted; the deletes run in transactions of at most 100."""
        with self._errors():
            items = self._scan_entity("observational_memory")
            newest: dict[str, int] = {}
            for item in items:
                key, gen = item["lookupKey"], int(item["generationCount"])
                newest[key] = max(newest.get(key, gen), gen)
            doomed = sorted(
                (
                    (record.created_at, item["pk"], item["sk"])
                    for item in items
                    if int(item["generationCount"]) < newest[item["lookupKey"]]
                    and (record := self._om_record(item)).created_at < created_before
                ),
            )[:limit]
            self._delete_keys([{"pk": pk, "sk": sk} for _, pk, sk in doomed])
        return len(doomed)

    def _om_floors(self, owners: dict[str, str]) -> dict[str, datetime]:
        """The observation cursor per thread: the later of its thread and resource heads'."""
        cache: dict[str, datetime | None] = {}

        def cursor(key: str) -> datetime | None:
            if key not in cache:
                item = next(
                    iter(
                        self._query(
                            "pk = :p AND begins_with(sk, :b)",
                            _values(p=_om_pk(key), b=_OM_SK),
                            forward=False,
                            projection="lastObservedAt",
                            page_size=1,
                        )
                    ),
                    None,
                )
                raw = (item or {}).get("lastObservedAt")
                cache[key] = _parse(raw) if raw else None
            return cache[key]

        floors: dict[str, datetime] = {}
        for tid, rid in owners.items():
            stamps = [s for s in (cursor(f"thread:{tid}"), cursor(f"resource:{rid}")) if s is not None]
            if stamps:
                floors[tid] = max(stamps)
        return floors

    def _settle_after_cursor(self, stored: list[Message], new_ids: set[str], owners: dict[str, str]) -> list[Message]:
        """After the write: while a concurrent observation commit moved a cursor past a new
        message, move that message after it again (its ``createdAt`` and ``gsi1sk``)."""
        for _ in range(20):
            with self._errors():
                touched = {m.thread_id for m in stored}
                floors = self._om_floors({t: owners[t] for t in touched if t in owners})
                fixed = _om.restamp_after_cursor(stored, {m.id for m in stored} - new_ids, floors)
                moved = [m for m, before in zip(fixed, stored, strict=True) if m.created_at != before.created_at]
                if not moved:
                    return fixed
                for m in moved:
                    self._client.update_item(
                        TableName=self.table_name,
                        Key=_to_item(_message_key(m.id)),
                        UpdateExpression="SET createdAt = :c, gsi1sk = :s",
                        ConditionExpression="id = :id",
                        ExpressionAttributeValues=_values(c=_iso(m.created_at), s=_msg_sk(m.created_at), id=m.id),
                    )
            stored = fixed
        raise ConcurrencyError("observation cursors kept moving past a saved message")  # pragma: no cover

    # -- key-value memory -----------------------------------------------------------------------

    @staticmethod
    def _kv_expired(item: Item, now: datetime) -> bool:
        expires = item.get("expiresAt")
        return expires is not None and int(expires) <= _epoch_ms(now)

    @staticmethod
    def _kv_row(item: Item) -> KVRow:
        expires = item.get("expiresAt")
        return KVRow(
            item["value"],
            None if expires is None else datetime.fromtimestamp(int(expires) / 1000, UTC),
            _parse(item["createdAt"]),
            _parse(item["updatedAt"]),
        )

    @staticmethod
    def _kv_item(namespace: str, key: str, value_json: str, expires_at: datetime | None, **extra: Any) -> Item:
        item: Item = {
            **_kv_key(namespace, key),
            "entity": "kv",
            "namespace": namespace,
            "key": key,
            "value": value_json,
            "size": len(value_json.encode("utf-8")),
            **extra,
        }
        if expires_at is not None:
            item["expiresAt"] = _epoch_ms(expires_at)
            item["ttl"] = math.ceil(expires_at.timestamp())
        return item

    def _kv_delete_expired(self, namespace: str, key: str, now: datetime) -> None:
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):  # written again
            self._client.delete_item(
                TableName=self.table_name,
                Key=_to_item(_kv_key(namespace, key)),
                ConditionExpression="expiresAt <= :now",
                ExpressionAttributeValues=_values(now=_epoch_ms(now)),
            )

    def _kv_set(self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime) -> None:
        with self._errors():
            for _ in range(1000):
                item = self._get(_kv_key(namespace, key), "createdAt, expiresAt, rev")
                live = item is not None and not self._kv_expired(item, now)
                created = item["createdAt"] if item is not None and live else _iso(now)
                rev = int((item or {}).get("rev", 0))
                new = self._kv_item(
                    namespace, key, value_json, expires_at, createdAt=created, updatedAt=_iso(now), rev=rev + 1
                )
                if item is None:
                    ok = self._conditional_put(new, "attribute_not_exists(pk)")
                else:
                    ok = self._conditional_put(new, "rev = :r", _values(r=rev))
                if ok:
                    return
        raise ConcurrencyError(f"key {namespace}/{key} kept changing during a set")

    def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        with self._errors():
            item = self._get(_kv_key(namespace, key))
            if item is None:
                return None
            if self._kv_expired(item, now):
                self._kv_delete_expired(namespace, key, now)
                return None
        return self._kv_row(item)

    def _kv_exists(self, namespace: str, key: str, now: datetime) -> bool:
        with self._errors():
            item = self._get(_kv_key(namespace, key), "pk, expiresAt")
        return item is not None and not self._kv_expired(item, now)

    def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        with self._errors():
            resp = self._client.delete_item(
                TableName=self.table_name, Key=_to_item(_kv_key(namespace, key)), ReturnValues="ALL_OLD"
            )
        old = resp.get("Attributes")
        return bool(old) and not self._kv_expired(_from_item(old), now)

    def _kv_list_keys(self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime) -> list[str]:
        values = _values(p=_KV_P + namespace, now=_epoch_ms(now))
        if after_key is not None and after_key >= prefix:
            cond = "pk = :p AND sk > :lo"
            values[":lo"] = _ser(_KV_SK + after_key)
        else:
            cond = "pk = :p AND begins_with(sk, :lo)"
            values[":lo"] = _ser(_KV_SK + prefix)
        out: list[str] = []
        with self._errors():
            for item in self._query(
                cond,
                values,
                projection="#k",
                names={"#k": "key", "#x": "expiresAt"},
                filter_expression="attribute_not_exists(#x) OR #x > :now",
                page_size=max(limit, 100),
            ):
                if not item["key"].startswith(prefix):
                    break
                out.append(item["key"])
                if len(out) >= limit:
                    break
        return out

    def _kv_clear(self, namespace: str) -> int:
        with self._errors():
            keys = [
                {"pk": i["pk"], "sk": i["sk"]}
                for i in self._query("pk = :p", _values(p=_KV_P + namespace), projection="pk, sk")
            ]
            self._batch_delete(keys)
        return len(keys)

    def _batch_delete(self, keys: list[Item]) -> None:
        for start in range(0, len(keys), 25):
            request: dict[str, Any] = {
                self.table_name: [{"DeleteRequest": {"Key": _to_item(k)}} for k in keys[start : start + 25]]
            }
            delay = 0.005
            while request:
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if request:
                    delay = self._backoff(delay)

    def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        delay = 0.002
        with self._errors():
            for _ in range(1000):
                item = self._get(_kv_key(namespace, key))
                live = item is not None and not self._kv_expired(item, now)
                write = modify(self._kv_row(item) if item is not None and live else None)
                if write is None:
                    return
                rev = int((item or {}).get("rev", 0))
                created = item["createdAt"] if item is not None and live else _iso(now)
                new = self._kv_item(
                    namespace,
                    key,
                    write.value_json,
                    write.expires_at,
                    createdAt=created,
                    updatedAt=_iso(now),
                    rev=rev + 1,
                )
                if item is None:
                    ok = self._conditional_put(new, "attribute_not_exists(pk)")
                else:
                    ok = self._conditional_put(new, "rev = :r", _values(r=rev))
                if ok:
                    return
                delay = min(delay * 1.5, 0.05)
                time.sleep(delay * random.random())
        raise ConcurrencyError(f"key {namespace}/{key} kept changing during an atomic update")

    def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        keys = size = 0
        with self._errors():
            for item in self._query(
                "pk = :p",
                _values(p=_KV_P + namespace, now=_epoch_ms(now)),
                projection="#s",
                names={"#s": "size", "#x": "expiresAt"},
                filter_expression="attribute_not_exists(#x) OR #x > :now",
            ):
                keys += 1
                size += int(item.get("size", 0))
        return KVStats(keys, size)

    def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#e = :kv AND #x <= :now",
            "ExpressionAttributeNames": {"#e": "entity", "#x": "expiresAt"},
            "ExpressionAttributeValues": _values(kv="kv", now=_epoch_ms(now)),
            "ProjectionExpression": "pk, sk",
        }
        deleted = 0
        with self._errors():
            while deleted < limit:
                resp = self._client.scan(**args)
                for raw in resp.get("Items", []):
                    if deleted >= limit:
                        break
                    try:
                        self._client.delete_item(
                            TableName=self.table_name,
                            Key=raw,
                            ConditionExpression="expiresAt <= :now",
                            ExpressionAttributeValues=_values(now=_epoch_ms(now)),
                        )
                        deleted += 1
                    except self._client.exceptions.ConditionalCheckFailedException:
                        pass
                if not resp.get("LastEvaluatedKey"):
                    break
                args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return deleted
