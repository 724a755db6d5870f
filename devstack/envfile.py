"""`.env` handling: created once from `.env.example` with fresh secrets, then read."""

from __future__ import annotations

import secrets
from pathlib import Path

from api.common.settings import PLACEHOLDER_SECRET


def create_env_file(example: Path, target: Path) -> bool:
    """Copy the example with every placeholder secret replaced; never overwrite.

    Returns True when the file was created.
    """
    if target.exists():
        return False
    lines = []
    for line in example.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and value.strip() == PLACEHOLDER_SECRET and not key.startswith("#"):
            line = f"{key}={secrets.token_urlsafe(24)}"
        lines.append(line)
    partial = target.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.chmod(0o600)
    partial.replace(target)
    return True


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; quotes stripped."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values
