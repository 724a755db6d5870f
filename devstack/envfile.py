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


FIRST_ANALYST = "analyst"
ANALYSTS_VARIABLE = "WORKBENCH_ANALYSTS"


def add_first_analyst(path: Path) -> str | None:
    """When the env file lists no workbench analyst, add "analyst" with a random
    password; returns that password (for the caller to print once), else None."""
    if read_env_file(path).get(ANALYSTS_VARIABLE, "").strip():
        return None
    from ui.passwords import hash_password, random_password  # the workbench's hash

    password = random_password()
    entry = f"{ANALYSTS_VARIABLE}={FIRST_ANALYST}:{hash_password(password)}"
    lines = path.read_text().splitlines()
    prefix = f"{ANALYSTS_VARIABLE}="
    if any(line.strip().startswith(prefix) for line in lines):
        lines = [entry if line.strip().startswith(prefix) else line for line in lines]
    else:
        lines.append(entry)
    partial = path.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.chmod(0o600)
    partial.replace(path)
    return password
