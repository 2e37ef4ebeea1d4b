"""Credentials out of every URL and text geomm shows: errors, logs, metadata.

Asset hrefs and catalog URLs may carry secrets: Planetary Computer's SAS
tokens (``sig=``, with ``se``/``sv``/``sp``... beside it), S3 presigned URLs
(``X-Amz-Credential``, ``X-Amz-Signature``, ``X-Amz-Security-Token``),
``token=``/``key=`` query parameters, and passwords in the URL itself
(``https://user:PASSWORD@host``). A one-line error that names the asset, or
a debug log of the request, would print them to a terminal, a CI log or a
bug report. :func:`redact_url` keeps a URL's shape (scheme, host, path, the
names of the parameters) and replaces the secret values with
:data:`REDACTED`; :func:`redact_text` does the same to every URL and query
string inside a message (GDAL's and urllib3's messages quote URLs, often
without their scheme), and to ``Authorization``-style headers that
pystac-client logs. :func:`install_log_redaction` puts a
:class:`RedactingFilter` on the root logger's handlers (the CLI calls it).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["REDACTED", "RedactingFilter", "install_log_redaction", "redact_text", "redact_url"]

REDACTED = "REDACTED"
"""What a secret value is replaced with."""

# fmt: off
_SECRET_PARAMS = frozenset(
    {
        # Azure SAS (service, account and user-delegation tokens): the signature
        # and every field signed with it
        "sig", "se", "sv", "sp", "st", "sr", "spr", "srt", "ss", "si", "sip", "sdd",
        "skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid",
        # S3 / CloudFront / GCS signed URLs (v2 query signing; v4 is X-Amz-*)
        "awsaccesskeyid", "signature", "policy", "key-pair-id", "googleaccessid",
        # bearer tokens and API keys
        "token", "access_token", "id_token", "refresh_token", "auth", "authorization",
        "key", "api_key", "apikey", "api-key", "subscription-key", "client_secret",
        "secret", "password", "passwd", "pwd", "code",
    }
)
# fmt: on
"""Query parameter names (lower case) whose values are secret."""

_SECRET_PREFIXES = ("x-amz-", "x-goog-", "x-ms-")
"""Parameter name prefixes of signed-URL schemes: every such value is hidden."""


def _secret_param(name: str) -> bool:
    key = unquote(name).strip().lower()
    return key in _SECRET_PARAMS or key.startswith(_SECRET_PREFIXES)


def _redact_pairs(query: str) -> str:
    """``a=1&sig=x`` -> ``a=1&sig=REDACTED``, byte for byte otherwise."""
    parts = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        parts.append(f"{name}={REDACTED}" if eq and _secret_param(name) else pair)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced by :data:`REDACTED`.

    The user info (``user:password@``) goes whole, since a lone user name is
    often a token too; so do the values of secret query and fragment
    parameters (SAS parts, ``X-Amz-*``, ``token``, ``key``...). Anything else
    (scheme, host, port, path, the other parameters) is kept as it was, so
    the message still says where. Not a URL (a local path): unchanged.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here: fall back to the text rules
    except ValueError:
        return _redact_loose(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query, fragment = _redact_pairs(parts.query), _redact_pairs(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url  # nothing secret: exactly as given (urlunsplit may normalise)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>`]+(?<![.,:;)\]])""")
"""A URL inside a message, up to the next blank or quote, less trailing punctuation."""

_USERINFO = re.compile(r"""(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s'"<>@]+@""")
_BARE_USERINFO = re.compile(
    r"""(?<![\w:/@.])(?P<user>[\w.%+\-]+):[^\s@/'"<>]+@(?P<host>\[[0-9A-Fa-f:.]+\]|[\w\-]+(?:\.[\w\-]+)*)"""
)
"""``user:password@host`` without a scheme, as Dask and others quote an address they parsed."""
_PARAM = re.compile(
    r"""(?P<lead>[?&#])(?P<name>[^=&?#\s'"<>]+)=(?P<value>[^&#\s'"<>]*[^&#\s'"<>.,:;)\]])"""
)
"""``?name=value`` or ``&name=value`` anywhere, e.g. urllib3's ``url: /x?sig=...``."""

_HEADER = re.compile(
    r"""(?P<name>authorization|proxy-authorization|cookie|set-cookie|x-api-key|"""
    r"""x-amz-security-token|ocp-apim-subscription-key)(?P<sep>['"]?\s*:\s*['"]?)"""
    r"""(?P<value>[^'"\r\n}]+)""",
    re.IGNORECASE,
)
"""A secret HTTP header as logged (``'Authorization': 'Basic ...'``)."""

_SIGNING = re.compile(
    r"""(?P<name>\b(?:Credential|Signature))=(?P<value>[^,\s&'"]*[^,\s&'".:;)\]])"""
)
"""The parts of an AWS signature (``Credential=KEYID/...``) quoted in a message."""


def _redact_loose(text: str) -> str:
    """The text rules for what is not a URL (a message, a mangled URL)."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    text = _BARE_USERINFO.sub(lambda m: f"{REDACTED}@{m['host']}", text)
    text = _PARAM.sub(
        lambda m: f"{m['lead']}{m['name']}={REDACTED}" if _secret_param(m["name"]) else m[0],
        text,
    )
    text = _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    return _SIGNING.sub(lambda m: f"{m['name']}={REDACTED}", text)


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL, query string and auth header in it hidden.

    For messages that quote URLs: rasterio's and GDAL's (``/vsicurl/https://...``),
    urllib3's (``Max retries exceeded with url: /path?sig=...``, no scheme),
    pystac-client's request logs (headers included).
    """
    text = _URL.sub(lambda m: redact_url(m[0]), str(text))
    return _redact_loose(text)


class RedactingFilter(logging.Filter):
    """Hides credentials in each record a handler emits (message, arguments, traceback).

    Put on handlers, not loggers: a handler sees the records of every library
    (pystac-client, urllib3, requests, rasterio) that propagate to it, while
    a logger's filter sees only its own. The record is changed in place, so
    handlers after this one get the redacted text too.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:  # the name logging calls
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put a :class:`RedactingFilter` on every handler of ``logger`` (the root), once.

    Called by the CLI right after it configures logging; a program that sets
    up its own handlers may call it too, after adding them.
    """
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
