"""Keep secrets out of logs and results: API keys are never written anywhere by peer-bench."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[A-Za-z0-9._\-]{8,})")


def _secret_values() -> list[str]:
    return sorted((v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8), key=len, reverse=True)


def redact(text: str | None) -> str | None:
    """Replace any secret-looking value (env secrets, key shapes, URL credentials) with '***'."""
    if not text:
        return text
    for value in _secret_values():
        text = text.replace(value, "***")
    text = _KEY_SHAPES.sub("***", text)
    if "://" in text and "@" in text:
        try:
            parts = urlsplit(text)
            if parts.username or parts.password:
                host = parts.hostname or ""
                port = f":{parts.port}" if parts.port else ""
                text = urlunsplit((parts.scheme, f"***@{host}{port}", parts.path, parts.query, parts.fragment))
        except ValueError:
            pass
    return text
