"""`oms keys ...`: the command line that manages API keys, on the test's store."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app import cli
from app.adapters.api_keys import ApiKey, ApiKeyStore, digest
from app.adapters.db import open_database
from app.config import Settings
from app.logs import configure_logging

Oms = Callable[..., tuple[int, str, str]]


@pytest.fixture
def store(settings: Settings) -> Iterator[ApiKeyStore]:
    db = open_database(settings)
    yield ApiKeyStore(db)
    db.close()


@pytest.fixture
def oms(settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Oms]:
    """Runs `oms <args>` in this process on the test's store: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("OMS_LOG_LEVEL", "WARNING")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    configure_logging("WARNING", "console")  # main() configured the logs for itself


def _key_of(out: str) -> str:
    lines = out.splitlines()
    assert len(lines) == 1, out
    return lines[0]


def test_create_prints_the_key_once_and_it_authenticates(oms: Oms, store: ApiKeyStore) -> None:
    code, out, err = oms("keys", "create", "--name", "audit-nadia", "--role", "auditor")
    assert code == 0, err
    key = _key_of(out)
    assert key.startswith("oms_")
    assert key not in err and "audit-nadia" in err
    found = store.authenticate(key)
    assert isinstance(found, ApiKey)
    assert (found.name, found.role, found.prefix) == ("audit-nadia", "auditor", key[:8])


def test_list_shows_names_and_roles_and_never_a_key(oms: Oms, store: ApiKeyStore) -> None:
    _, out_a, _ = oms("keys", "create", "--name", "op-amelie", "--role", "operator")
    _, out_b, _ = oms("keys", "create", "--name", "int-erp", "--role", "integrator")
    keys = [_key_of(out_a), _key_of(out_b)]
    store.authenticate(keys[0])

    code, out, err = oms("keys", "list")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["name", "role", "prefix"]
    assert [r.split()[:3] for r in rows] == [
        ["op-amelie", "operator", keys[0][:8]], ["int-erp", "integrator", keys[1][:8]],
    ]
    # Used once, never revoked; the other never used.
    assert rows[0].split()[-1] == "-" and rows[1].split()[-2:] == ["-", "-"]
    for key in keys:
        assert key not in out + err and key[8:] not in out + err
        assert digest(key) not in out + err


def test_revoke_makes_the_key_stop_working(oms: Oms, store: ApiKeyStore) -> None:
    _, out, _ = oms("keys", "create", "--name", "op-leaving", "--role", "operator")
    key = _key_of(out)
    assert store.authenticate(key) is not None

    code, out, err = oms("keys", "revoke", "op-leaving")
    assert (code, out) == (0, "")
    assert "op-leaving" in err
    assert store.authenticate(key) is None
    listed = oms("keys", "list")[1]
    (row,) = [r for r in listed.splitlines() if r.startswith("op-leaving")]
    assert row.split()[-1] != "-"  # the revocation time

    assert oms("keys", "revoke", "op-leaving")[0] == 0  # again: harmless
    code, out, err = oms("keys", "revoke", "nobody")
    assert (code, out) == (2, "")
    assert "nobody" in err


def test_an_unknown_role_is_rejected_by_the_parser(oms: Oms, store: ApiKeyStore) -> None:
    code, out, err = oms("keys", "create", "--name", "boss", "--role", "superuser")
    assert (code, out) == (2, "")
    assert "superuser" in err
    assert store.get("boss") is None


def test_a_duplicate_or_invalid_name_exits_2_without_a_key(
    oms: Oms, store: ApiKeyStore
) -> None:
    code, out, _ = oms("keys", "create", "--name", "op-x", "--role", "operator")
    first = _key_of(out)
    code, out, err = oms("keys", "create", "--name", "op-x", "--role", "admin")
    assert (code, out) == (2, "")
    assert "op-x" in err and "oms_" not in err
    kept = store.get("op-x")
    assert kept is not None and kept.role == "operator"
    assert store.authenticate(first) is not None

    code, out, err = oms("keys", "create", "--name", "has space", "--role", "admin")
    assert (code, out) == (2, "")
    assert store.get("has space") is None


def test_demo_keeps_a_working_operator_key_in_a_private_file(
    oms: Oms, store: ApiKeyStore, tmp_path: Path
) -> None:
    path = tmp_path / "var" / "demo-operator.key"
    code, out, err = oms("keys", "demo", "--file", str(path))
    assert code == 0, err
    key = _key_of(out)
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = store.authenticate(key)
    assert found is not None and found.role == "operator"

    # Again: the same key, no new one.
    code, out, _ = oms("keys", "demo", "--file", str(path))
    assert (code, _key_of(out)) == (0, key)
    assert len(store.list()) == 1

    # Once revoked, a new working key replaces it, in the same file.
    store.revoke(found.name)
    code, out, err = oms("keys", "demo", "--file", str(path))
    assert code == 0, err
    renewed = _key_of(out)
    assert renewed != key
    assert path.read_text().strip() == renewed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.authenticate(key) is None
    again = store.authenticate(renewed)
    assert again is not None and again.role == "operator" and again.name != found.name

    # And again at once (the same second): still a new working key, never a crash.
    store.revoke(again.name)
    code, out, err = oms("keys", "demo", "--file", str(path))
    assert code == 0, err
    third = _key_of(out)
    assert third not in (key, renewed)
    assert store.authenticate(third) is not None
    assert [k.name for k in store.list() if k.active] == [store.authenticate(third).name]


def test_demo_replaces_a_stale_file_and_makes_it_private(
    oms: Oms, store: ApiKeyStore, tmp_path: Path
) -> None:
    path = tmp_path / "demo.key"
    path.write_text("oms_stale-key-from-another-store\n")
    path.chmod(0o644)
    code, out, err = oms("keys", "demo", "--file", str(path))
    assert code == 0, err
    key = _key_of(out)
    assert path.read_text() == key + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.authenticate(key) is not None
