"""A fresh checkout gets a usable first analyst; an existing list is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.envfile import add_first_analyst, create_env_file, read_env_file
from ui.passwords import parse_analysts, verify_password

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_a_new_env_file_gets_analyst_with_the_printed_password(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    create_env_file(ROOT / ".env.example", env_file)

    password = add_first_analyst(env_file)

    assert password is not None
    analysts = parse_analysts(read_env_file(env_file)["WORKBENCH_ANALYSTS"])
    assert list(analysts) == ["analyst"]
    assert verify_password(password, analysts["analyst"])
    assert password not in env_file.read_text()
    assert env_file.stat().st_mode & 0o077 == 0
    assert read_env_file(env_file)["SENTINEL_PORT"] == "8001"


def test_a_configured_list_is_never_replaced(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WORKBENCH_ANALYSTS=alice:HASH\nOTHER=1\n")

    assert add_first_analyst(env_file) is None
    assert env_file.read_text() == "WORKBENCH_ANALYSTS=alice:HASH\nOTHER=1\n"


def test_an_env_file_without_the_variable_gets_it_appended(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SENTINEL_API_KEY=abc\n")

    password = add_first_analyst(env_file)

    values = read_env_file(env_file)
    assert values["SENTINEL_API_KEY"] == "abc"
    assert password is not None
    assert verify_password(
        password, parse_analysts(values["WORKBENCH_ANALYSTS"])["analyst"]
    )
