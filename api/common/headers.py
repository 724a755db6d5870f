"""HTTP header names shared by the services and their clients (no web framework)."""

API_KEY_HEADER = "X-API-Key"
REQUEST_ID_HEADER = "X-Request-ID"
