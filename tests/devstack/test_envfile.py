"""`.env` is made once from the example with fresh secrets and never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.envfile import create_env_file, read_env_file

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_every_placeholder_becomes_a_distinct_random_secret(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"

    create_env_file(ROOT / ".env.example", first)
    create_env_file(ROOT / ".env.example", second)

    values, others = read_env_file(first), read_env_file(second)
    secrets = {
        k: v
        for k, v in read_env_file(ROOT / ".env.example").items()
        if v == "change-me"
    }
    assert secrets, ".env.example should declare its secrets as change-me"
    for name in secrets:
        assert values[name] != "change-me"
        assert len(values[name]) >= 24
        assert values[name] != others[name]
    assert len({values[name] for name in secrets}) == len(secrets)
    assert values["SENTINEL_PORT"] == "8001"
    assert first.stat().st_mode & 0o077 == 0


def test_an_existing_env_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("SENTINEL_API_KEY=mine\n")

    created = create_env_file(ROOT / ".env.example", target)

    assert created is False
    assert target.read_text() == "SENTINEL_API_KEY=mine\n"


def test_a_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("# comment\nGOOD=1\nthis line has no equals sign\n")

    with pytest.raises(ValueError, match=r"\.env:3: expected KEY=VALUE"):
        read_env_file(target)
