"""Writes the review queue acknowledges only once Redis has them on disk.

Redis runs with `appendonly yes` and `appendfsync always`: it fsyncs the append-only
file before it answers a write, so an answer means the write survives kill -9. On
Redis 7.2 and later we also send WAITAOF on the same connection, which confirms the
fsync explicitly (Redis 7.0, installed here, has no WAITAOF).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from api.common.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

WAITAOF_SINCE = (7, 2)


@dataclass(frozen=True)
class Durability:
    """What the Redis server says about its persistence."""

    version: str
    appendonly: str
    appendfsync: str

    @property
    def fsync_every_write(self) -> bool:
        return self.appendonly == "yes" and self.appendfsync == "always"

    @property
    def supports_waitaof(self) -> bool:
        return _version_tuple(self.version) >= WAITAOF_SINCE

    def describe(self) -> str:
        return (
            f"redis {self.version}, appendonly={self.appendonly}, "
            f"appendfsync={self.appendfsync}"
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:2]:
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)


class DurableWrites:
    """Runs queue scripts; with WAITAOF when the server has it."""

    def __init__(self, redis: aioredis.Redis, waitaof_timeout_ms: int) -> None:
        self._redis = redis
        self._timeout_ms = waitaof_timeout_ms
        self.use_waitaof = False

    async def inspect(self) -> Durability:
        """Read the server's persistence settings (CONFIG may be refused: unknown)."""
        info = await self._redis.info("server")
        version = str(info.get("redis_version", "0"))
        try:
            config = await self._redis.config_get("append*")
        except ResponseError:
            config = {}
        durability = Durability(
            version=version,
            appendonly=str(config.get("appendonly", "unknown")),
            appendfsync=str(config.get("appendfsync", "unknown")),
        )
        self.use_waitaof = durability.supports_waitaof
        return durability

    async def run(
        self, client: aioredis.Redis, script: AsyncScript, args: Sequence[Any]
    ) -> Any:
        """One script call, acknowledged once durable."""
        if not self.use_waitaof:
            return await script(args=args, client=client)
        [reply] = await self.run_many(client, script, [args])
        return reply

    async def run_many(
        self,
        client: aioredis.Redis,
        script: AsyncScript,
        calls: Sequence[Sequence[Any]],
    ) -> list[Any]:
        """Several script calls in one round trip, then one durability check."""
        async with client.pipeline(transaction=False) as pipe:
            for args in calls:
                await script(args=args, client=pipe)
            if self.use_waitaof:
                pipe.execute_command("WAITAOF", 1, 0, self._timeout_ms)
            replies = list(await pipe.execute())
        if self.use_waitaof:
            local_fsynced = int(replies.pop()[0])
            if local_fsynced < 1:
                raise DependencyUnavailable(
                    "redis did not confirm the write reached its append-only file; "
                    "retry with the same Idempotency-Key"
                )
        return replies
