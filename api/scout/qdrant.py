"""The one place a Qdrant client is built: server mode or embedded local mode."""

from __future__ import annotations

from qdrant_client import QdrantClient

from api.scout.settings import QdrantSettings


def connect_qdrant(settings: QdrantSettings) -> QdrantClient:
    """A server client when QDRANT_URL is set, otherwise local mode at QDRANT_PATH.

    Local mode holds an exclusive lock on its folder: one process at a time, so the
    index is built before Scout starts (the bootstrap job), never while it serves.
    """
    if settings.qdrant_url:
        key = (
            settings.qdrant_api_key.get_secret_value()
            if settings.qdrant_api_key
            else None
        )
        return QdrantClient(url=settings.qdrant_url, api_key=key, timeout=5)
    return QdrantClient(path=settings.qdrant_path)
