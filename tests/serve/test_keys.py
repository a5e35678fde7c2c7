"""API keys: shown once, stored hashed, revocable, safe to create concurrently."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chainlight.errors import InputError, NotFound
from chainlight.serve.keys import KEYS_FILE, KeyStore, parse_token


def test_created_key_authenticates_and_only_its_digest_is_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key, token = store.create("decider", "loan flow")
    assert parse_token(token) == (key.key_id, token.split("_", 2)[2])
    assert store.authenticate(token) == key
    stored = (tmp_path / KEYS_FILE).read_text()
    assert token.split("_", 2)[2] not in stored and key.digest in stored
    assert oct((tmp_path / KEYS_FILE).stat().st_mode & 0o777) == "0o600"
    assert json.loads(stored)["keys"][0]["role"] == "decider"


def test_wrong_secret_unknown_id_and_malformed_tokens_fail(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key, token = store.create("analyst")
    assert store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.authenticate(f"cl_00000000_{token.split('_', 2)[2]}") is None
    for bad in ("", "cl_", "Bearer x", "cl_short_x", token.replace("cl_", "xx_", 1)):
        assert store.authenticate(bad) is None


def test_revocation_is_seen_by_a_store_already_reading(tmp_path: Path) -> None:
    reader, writer = KeyStore(tmp_path), KeyStore(tmp_path)
    key, token = writer.create("analyst")
    assert reader.authenticate(token) is not None
    revoked = writer.revoke(key.key_id)
    assert revoked.revoked_at and not revoked.active
    assert reader.authenticate(token) is None
    assert [k.key_id for k in reader.list()] == [key.key_id]


def test_roles_and_unknown_ids_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    with pytest.raises(InputError):
        store.create("admin")
    with pytest.raises(NotFound):
        store.revoke("deadbeef")
    analyst, _ = store.create("analyst")
    decider, _ = store.create("decider")
    assert analyst.may("read") and not analyst.may("decide")
    assert decider.may("read") and decider.may("decide")


def test_concurrent_creation_loses_no_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda i: KeyStore(tmp_path).create("analyst", str(i))[1], range(24)))
    store = KeyStore(tmp_path)
    assert len(store.list()) == 24
    assert all(store.authenticate(t) is not None for t in tokens)


def test_missing_workspace_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        KeyStore(tmp_path / "absent")
