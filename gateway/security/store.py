"""Where the gateway keeps who may call: clients (hashed API keys and secrets, scopes, revoked) and the
JWT signing keys, in the same database as the reservations, so every process and container agrees.

Three implementations of one small ``IdentityStore`` port: memory (tests, ``memory://``), SQLite (the
same file as the core, its own ``gateway_schema`` version table: ``PRAGMA user_version`` is the
core's) and PostgreSQL (the same schema, its own ``gateway_schema_migrations``). The SQL is portable
and written once; PostgreSQL swaps the ``?`` placeholders for ``%s``.
"""

from __future__ import annotations

import abc
import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from services.core.model import format_timestamp, parse_timestamp


@dataclass(frozen=True, slots=True)
class Client:
    """A registered caller. Its API key and secret are kept only as SHA-256 digests."""

    client_id: str
    scopes: frozenset[str]
    api_key_hash: str
    secret_hash: str
    revoked: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One RS256 key pair. It signs from ``activates_at`` until a newer key activates, and its public
    half stays in the JWKS until ``retires_at`` (when the last token it signed has expired)."""

    kid: str
    private_pem: str
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None = None

    def published(self, now: datetime) -> bool:
        return self.retires_at is None or now < self.retires_at


class IdentityStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def add_client(self, client: Client) -> bool:
        """False when the client id is taken (nothing changes)."""
        ...

    async def client(self, client_id: str) -> Client | None: ...
    async def client_by_key(self, api_key_hash: str) -> Client | None: ...
    async def clients(self) -> list[Client]: ...
    async def revoke(self, client_id: str) -> bool:
        """False when no such client exists."""
        ...

    async def keys(self) -> list[SigningKey]: ...
    async def add_key(self, key: SigningKey, *, retire_others_at: datetime | None = None) -> None:
        """Add ``key``; with ``retire_others_at``, every key not yet retiring retires then (rotation)."""
        ...


class MemoryIdentityStore:
    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._keys: dict[str, SigningKey] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def add_client(self, client: Client) -> bool:
        if client.client_id in self._clients:
            return False
        self._clients[client.client_id] = client
        return True

    async def client(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    async def client_by_key(self, api_key_hash: str) -> Client | None:
        return next((c for c in self._clients.values() if c.api_key_hash == api_key_hash), None)

    async def clients(self) -> list[Client]:
        return sorted(self._clients.values(), key=lambda c: (c.created_at, c.client_id))

    async def revoke(self, client_id: str) -> bool:
        client = self._clients.get(client_id)
        if client is None:
            return False
        self._clients[client_id] = replace(client, revoked=True)
        return True

    async def keys(self) -> list[SigningKey]:
        return sorted(self._keys.values(), key=lambda k: (k.activates_at, k.kid))

    async def add_key(self, key: SigningKey, *, retire_others_at: datetime | None = None) -> None:
        if retire_others_at is not None:
            for kid, other in list(self._keys.items()):
                if other.retires_at is None:
                    self._keys[kid] = replace(other, retires_at=retire_others_at)
        self._keys[key.kid] = key


# -- SQL (SQLite spelling; PostgreSQL replaces the placeholders) -------------------------------------

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS gateway_clients (
            client_id    TEXT PRIMARY KEY,
            scopes       TEXT NOT NULL,
            api_key_hash TEXT NOT NULL UNIQUE,
            secret_hash  TEXT NOT NULL,
            revoked      INTEGER NOT NULL DEFAULT 0,
            created_at   TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS gateway_signing_keys (
            kid          TEXT PRIMARY KEY,
            private_pem  TEXT NOT NULL,
            public_jwk   TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            activates_at TEXT NOT NULL,
            retires_at   TEXT
        )""",
    ),
}
LATEST_VERSION = max(MIGRATIONS)

_CLIENT = "SELECT client_id, scopes, api_key_hash, secret_hash, revoked, created_at FROM gateway_clients"
_KEY = "SELECT kid, private_pem, public_jwk, created_at, activates_at, retires_at FROM gateway_signing_keys"
SQL: dict[str, str] = {
    "add_client": "INSERT INTO gateway_clients"
    " (client_id, scopes, api_key_hash, secret_hash, revoked, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING",
    "client": _CLIENT + " WHERE client_id = ?",
    "client_by_key": _CLIENT + " WHERE api_key_hash = ?",
    "clients": _CLIENT + " ORDER BY created_at, client_id",
    "revoke": "UPDATE gateway_clients SET revoked = 1 WHERE client_id = ?",
    "keys": _KEY + " ORDER BY activates_at, kid",
    "retire_keys": "UPDATE gateway_signing_keys SET retires_at = ? WHERE retires_at IS NULL",
    "add_key": "INSERT INTO gateway_signing_keys"
    " (kid, private_pem, public_jwk, created_at, activates_at, retires_at)"
    " VALUES (?, ?, ?, ?, ?, ?)",
}


def _client(row: tuple[Any, ...]) -> Client:
    return Client(
        client_id=row[0],
        scopes=frozenset(row[1].split()),
        api_key_hash=row[2],
        secret_hash=row[3],
        revoked=bool(row[4]),
        created_at=parse_timestamp(row[5]),
    )


def _client_values(c: Client) -> tuple[Any, ...]:
    return (
        c.client_id,
        " ".join(sorted(c.scopes)),
        c.api_key_hash,
        c.secret_hash,
        int(c.revoked),
        format_timestamp(c.created_at),
    )


def _key(row: tuple[Any, ...]) -> SigningKey:
    return SigningKey(
        kid=row[0],
        private_pem=row[1],
        public_jwk=json.loads(row[2]),
        created_at=parse_timestamp(row[3]),
        activates_at=parse_timestamp(row[4]),
        retires_at=parse_timestamp(row[5]) if row[5] else None,
    )


def _key_values(k: SigningKey) -> tuple[Any, ...]:
    return (
        k.kid,
        k.private_pem,
        json.dumps(k.public_jwk, sort_keys=True),
        format_timestamp(k.created_at),
        format_timestamp(k.activates_at),
        format_timestamp(k.retires_at) if k.retires_at else None,
    )


class _SqlIdentityStore(abc.ABC):
    """The identity operations over the statements in ``SQL``, written once for both SQL stores;
    each runs them its own way (``_rows`` reads, ``_write`` runs statements in one transaction)."""

    @abc.abstractmethod
    async def _rows(self, name: str, *params: Any) -> list[tuple[Any, ...]]: ...

    @abc.abstractmethod
    async def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> int: ...

    async def add_client(self, client: Client) -> bool:
        return await self._write(("add_client", _client_values(client))) == 1

    async def client(self, client_id: str) -> Client | None:
        rows = await self._rows("client", client_id)
        return _client(rows[0]) if rows else None

    async def client_by_key(self, api_key_hash: str) -> Client | None:
        rows = await self._rows("client_by_key", api_key_hash)
        return _client(rows[0]) if rows else None

    async def clients(self) -> list[Client]:
        return [_client(row) for row in await self._rows("clients")]

    async def revoke(self, client_id: str) -> bool:
        return await self._write(("revoke", (client_id,))) == 1

    async def keys(self) -> list[SigningKey]:
        return [_key(row) for row in await self._rows("keys")]

    async def add_key(self, key: SigningKey, *, retire_others_at: datetime | None = None) -> None:
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if retire_others_at is not None:
            statements.append(("retire_keys", (format_timestamp(retire_others_at),)))
        statements.append(("add_key", _key_values(key)))
        await self._write(*statements)


class SqliteIdentityStore(_SqlIdentityStore):
    """The gateway's tables in the core's SQLite file, on a connection of their own."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SqliteIdentityStore.open() was not called")
        return self._db

    async def open(self) -> None:
        if self._db is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        db.execute("PRAGMA busy_timeout=10000")
        try:
            db.execute("BEGIN IMMEDIATE")  # one migrator at a time, across processes
            db.execute("CREATE TABLE IF NOT EXISTS gateway_schema (version INTEGER PRIMARY KEY)")
            current = db.execute("SELECT coalesce(max(version), 0) FROM gateway_schema").fetchone()[0]
            for version in range(current + 1, LATEST_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute("INSERT INTO gateway_schema (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()
            raise
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _rows(self, name: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self._lock:
            return self.db.execute(SQL[name], params).fetchall()

    async def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> int:
        async with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                changed = 0
                for name, params in statements:
                    changed += db.execute(SQL[name], params).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return changed


class PostgresIdentityStore(_SqlIdentityStore):
    """The gateway's tables in the core's PostgreSQL schema; a small pool of its own (the cache in
    front of it reads rarely)."""

    def __init__(self, dsn: str, *, schema: str | None = None) -> None:
        from services.store import check_schema

        self.dsn = dsn
        self.schema = check_schema(schema)
        self._pool: Any = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        from psycopg import sql
        from psycopg_pool import AsyncConnectionPool

        from services.store import MIGRATION_LOCK, connect_kwargs

        # Connections the server closed while pooled (PostgreSQL restarted) are replaced at checkout.
        pool = AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=4,
            kwargs=connect_kwargs(self.schema),
            open=False,
            check=AsyncConnectionPool.check_connection,
        )
        await pool.open(wait=True)
        try:
            async with pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                if self.schema is not None:
                    await conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                    )
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS gateway_schema_migrations ("
                    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                cur = await conn.execute("SELECT coalesce(max(version), 0) FROM gateway_schema_migrations")
                row = await cur.fetchone()
                for version in range(int(row[0] if row else 0) + 1, LATEST_VERSION + 1):
                    for statement in MIGRATIONS[version]:
                        await conn.execute(statement.replace("INTEGER", "integer"))
                    await conn.execute(
                        "INSERT INTO gateway_schema_migrations (version) VALUES (%s)", (version,)
                    )
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _rows(self, name: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        # A read is safe to run again: while PostgreSQL restarts, a credential check waits for it
        # (up to 25 s) instead of failing the request as INTERNAL.
        deadline, delay = time.monotonic() + 25.0, 0.05
        while True:
            conn: Any = None
            try:
                async with self._pool.connection() as conn:
                    cur = await conn.execute(SQL[name].replace("?", "%s"), params)
                    return list(await cur.fetchall())
            except psycopg.OperationalError:
                lost = conn is None or conn.broken  # no connection to be had, or it died under us
                if not lost or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> int:
        changed = 0
        async with self._pool.connection() as conn, conn.transaction():
            for name, params in statements:
                cur = await conn.execute(SQL[name].replace("?", "%s"), params)
                changed += cur.rowcount
        return changed


def open_identity_store(url: str) -> IdentityStore:
    """The identity tables beside the core's store named by ``url`` (not yet opened)."""
    from services.store import parse_store_url

    where = parse_store_url(url)
    if where.kind == "memory":
        return MemoryIdentityStore()
    if where.kind == "sqlite":
        return SqliteIdentityStore(where.path)
    return PostgresIdentityStore(where.dsn, schema=where.schema)
