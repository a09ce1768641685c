"""The JSON API (``/api/v1``) and the Beacon v2 endpoints."""
