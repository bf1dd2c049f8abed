"""The test database: its DSN and a fresh schema per test, dropped with everything in it afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_DSN = os.environ.get("ROSETTA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_schema(prefix: str = "rosetta_t", *, create: bool = True) -> Iterator[str]:
    """A new schema name (created empty unless ``create=False``: the stores create it themselves)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if create:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
