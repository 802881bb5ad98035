"""What the judge says of its server where people read it: grades, logs and output files.

`describe` words any error of the openai client in one line ("judge unreachable at …:
connection refused"); `public_base_url` is the server's URL without the credentials a URL
sometimes holds, and `redacted` any text without the API key. An error's own words are quoted
into grades, so none of them may carry a secret.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from evaluator.settings import Settings
from evaluator.text import one_line


def describe(exc: Exception, public_url: str, model: str, attempts: int, connect: float) -> str:
    """One line for any client error, after `attempts` tries with a `connect` s connect
    timeout; never includes the API key (`public_url` holds none)."""
    import openai

    where = f"judge at {public_url}"
    tries = f"{attempts} attempt" + ("s" if attempts > 1 else "")
    if isinstance(exc, openai.APITimeoutError):
        return f"judge unreachable at {public_url}: no connection within {connect:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return f"judge unreachable at {public_url}: {connection_reason(exc)}"
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} rejected the API key (HTTP 401): check OPENAI_API_KEY"
    if isinstance(exc, openai.RateLimitError):
        return f"{where} is rate limiting (HTTP 429, {tries}): {api_message(exc)}"
    if isinstance(exc, openai.NotFoundError):
        return f"{where}: model '{model}' or endpoint not found (HTTP 404)"
    if isinstance(exc, openai.APIStatusError):
        return f"{where} failed with HTTP {exc.status_code} ({tries}): {api_message(exc)}"
    return f"{where} failed: {one_line(exc.__class__.__name__ + ': ' + str(exc), 200)}"


def api_message(exc: Any) -> str:
    """The message of an HTTP error: the server's own `error.message` when its body has one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return one_line(str(message), 200)
    return one_line(getattr(exc, "message", "") or str(exc), 200)


def connection_reason(exc: BaseException) -> str:
    """The root cause of a connection failure, in a few words."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    chain = []
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(f"{type(c).__name__} {c}" for c in chain).lower()
    if isinstance(chain[-1], ConnectionRefusedError) or "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "remoteprotocol" in text or "peer closed" in text or "disconnected" in text:
        return "the server closed the connection mid-response"
    if isinstance(chain[-1], ConnectionResetError) or "reset" in text:
        return "connection reset by the server"
    return one_line(str(chain[-1]) or type(chain[-1]).__name__, 200)


def redacted(text: str, settings: Settings) -> str:
    """`text` without the API key: an error's own words go into grades and output files."""
    key = settings.judge_api_key.get_secret_value() if settings.judge_api_key else ""
    return text.replace(key, "***") if key else text


def public_base_url(url: str) -> str:
    """The URL without userinfo, query or fragment (where credentials sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
