"""``rosetta clients`` and ``rosetta keys`` as an operator runs them, and the demo client of a fresh store."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gateway.cli import banner, main
from gateway.settings import Settings
from tests.support.processes import rosetta_serve


def test_create_prints_the_credentials_once_list_never_shows_them_and_revoke_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert (
        main(["clients", "create", "--name", "alice", "--scopes", "reservations:read admin", "--db", db]) == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["clientId"] == "alice" and created["scopes"] == "admin reservations:read"
    assert created["apiKey"].startswith("rk_") and created["clientSecret"].startswith("rs_")

    assert main(["clients", "create", "--name", "alice", "--db", db]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["clients", "create", "--name", "bob", "--scopes", "everything", "--db", db]) == 2
    assert "scope" in capsys.readouterr().err

    assert main(["clients", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert json.loads(listing)[0]["clientId"] == "alice"
    assert created["apiKey"] not in listing and created["clientSecret"] not in listing

    assert main(["clients", "revoke", "alice", "--db", db]) == 0
    assert "revoked alice" in capsys.readouterr().out
    assert main(["clients", "list", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked"] is True
    assert main(["clients", "revoke", "nobody", "--db", db]) == 1


def test_keys_rotate_publishes_a_second_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["keys", "list", "--db", db]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["keys", "rotate", "--db", db, "--publish-ahead", "60"]) == 0
    assert "published now" in capsys.readouterr().out
    assert main(["keys", "list", "--db", db]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert len(keys) == 2 and keys[0]["retiresAt"] is not None and keys[1]["retiresAt"] is None


def test_the_banner_says_whether_checks_are_on() -> None:
    assert "auth       OFF" in banner(Settings(auth=False), None)
    assert "rosetta clients create" in banner(Settings(), None)


def test_serve_on_a_fresh_store_seeds_demo_and_prints_its_key_once(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with rosetta_serve(db, "--styles", "graphql") as (base, process):
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        key = next(line.split()[-1] for line in lines if "API key" in line)
        query = {"query": "{ reservations { totalItems } }"}
        assert httpx.post(f"{base}/graphql", json=query).json()["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED"
        )
        answer = httpx.post(f"{base}/graphql", json=query, headers={"x-api-key": key}).json()
        assert answer == {"data": {"reservations": {"totalItems": 0}}}
    with rosetta_serve(db, "--styles", "graphql") as (base, process):
        assert process.stdout is not None
        text = "".join(process.stdout.readline() for _ in range(3))
        assert "rk_" not in text and "rosetta clients create" in text
