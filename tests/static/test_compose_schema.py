"""docker-compose.yml against the Compose specification's JSON schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.static import stackfiles as sf

pytestmark = pytest.mark.static

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA.exists(), f"{CHECK_JSONSCHEMA} missing: `make install`"
    return subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_compose_file_follows_the_compose_specification() -> None:
    result = validate(sf.COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    """The validation can fail: a typo in a healthcheck key is reported."""
    broken = tmp_path / "docker-compose.yml"
    text = sf.COMPOSE_FILE.read_text()
    assert "    healthcheck:\n" in text
    broken.write_text(text.replace("    healthcheck:\n", "    helthcheck:\n", 1))
    result = validate(broken)
    assert result.returncode != 0
    assert "helthcheck" in result.stdout + result.stderr
