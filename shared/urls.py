"""Absolute URLs for stored paths (images), built in this one place."""

from __future__ import annotations


def absolute_url(base_url: str, path: str | None) -> str | None:
    """`PUBLIC_BASE_URL` + path; absolute URLs and empty values pass through unchanged."""
    if not path:
        return None
    if path.startswith(("http://", "https://")):
        return path
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"
