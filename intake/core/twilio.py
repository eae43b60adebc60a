"""Twilio-compatible recording webhooks: signature check and recording download.

Twilio signs each webhook with ``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the
account's auth token, over the full URL it called followed by every POST parameter's name and
value, names sorted. Proxies may add or drop a default port, so both forms are tried (as
twilio-python's ``RequestValidator`` does).

The recording is fetched only from hosts an admin allowed (``INTAKE_RECORDING_HOSTS``), also
after redirects, with a timeout and a size limit: the webhook's URL is attacker-chosen input
otherwise (server-side request forgery). The account's credentials go only over https (or to
loopback, which no network carries), and never to a redirect target.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from intake.errors import RejectedError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


class RecordingFetchError(Exception):
    """The recording could not be downloaded (network, HTTP status, size)."""


@dataclass(frozen=True)
class TwilioRecording:
    """The fields of a recording webhook that the gateway uses."""

    recording_url: str
    recording_sid: str
    caller: str | None
    called: str | None
    caller_name: str | None
    duration_s: int | None
    account_sid: str | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> TwilioRecording:
        url = (form.get("RecordingUrl") or "").strip()
        sid = (form.get("RecordingSid") or "").strip()
        if not url or not sid:
            raise RejectedError("RecordingUrl and RecordingSid are required")
        duration = (form.get("RecordingDuration") or "").strip()
        return cls(
            recording_url=url,
            recording_sid=sid,
            caller=(form.get("From") or "").strip() or None,
            called=(form.get("To") or "").strip() or None,
            caller_name=(form.get("CallerName") or "").strip() or None,
            duration_s=int(duration) if duration.isdigit() else None,
            account_sid=(form.get("AccountSid") or "").strip() or None,
        )


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc_auth = parts.netloc.rpartition("@")[0]
    prefix = netloc_auth + "@" if netloc_auth else ""
    variants = [url]
    if parts.port is not None and parts.port == default:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}")))
    elif parts.port is None and default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return variants


def validate_signature(
    auth_token: str, url: str, params: Sequence[tuple[str, str]], signature: str
) -> bool:
    """True when ``signature`` is Twilio's signature of this request."""
    if not auth_token or not signature:
        return False
    return any(
        hmac.compare_digest(compute_signature(auth_token, candidate, params), signature.strip())
        for candidate in _port_variants(url)
    )


def host_allowed(url: str, allowed_hosts: Sequence[str]) -> bool:
    """Is ``url`` an http(s) URL on an allowed host? ``*.example.com`` allows subdomains."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower().rstrip(".")
    for entry in allowed_hosts:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def credentials_may_go_to(url: str) -> bool:
    """May basic-auth credentials be sent to ``url``? Only over https, or over http to loopback.

    Basic auth is the account SID and auth token in the clear: over plain http anyone on the path
    reads them. Loopback traffic never leaves the host (a local test server or TLS proxy).
    """
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "http" or not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _AllowListRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allowed_hosts: Sequence[str]) -> None:
        self.allowed_hosts = allowed_hosts

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not host_allowed(newurl, self.allowed_hosts):
            raise RejectedError(
                "recording redirect to a host that is not allowed: {newurl}", newurl=newurl
            )
        # Credentials are for the first host only; a redirect target gets none.
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.remove_header("Authorization")
        return new


@dataclass(frozen=True)
class FetchedRecording:
    data: bytes
    content_type: str


def fetch_recording(
    url: str,
    *,
    allowed_hosts: Sequence[str],
    max_bytes: int,
    timeout_s: float = 10.0,
    basic_auth: tuple[str, str] | None = None,
) -> FetchedRecording:
    """Download a recording. RejectedError: host not allowed, or credentials over plain http;
    RecordingFetchError: it failed."""
    if not host_allowed(url, allowed_hosts):
        raise RejectedError(
            "recording host {host!r} is not in INTAKE_RECORDING_HOSTS",
            host=urlsplit(url).hostname or url,
        )
    if basic_auth is not None and not credentials_may_go_to(url):
        # Refused before any connection: the credentials must not cross the network in clear.
        raise RejectedError(
            "refusing to send the Twilio credentials over plain http to {hostname}: "
            "the recording URL must be https",
            hostname=urlsplit(url).hostname,
        )
    request = urllib.request.Request(url, headers={"User-Agent": "intake-gateway"})
    if basic_auth is not None:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(_AllowListRedirects(allowed_hosts))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            data = _read_limited(response, max_bytes)
            content_type = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise RecordingFetchError(f"recording download answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RecordingFetchError(f"recording download failed: {reason}") from exc
    if not data:
        raise RecordingFetchError("recording download returned no bytes")
    return FetchedRecording(data=data, content_type=content_type)


def _read_limited(response: Any, max_bytes: int) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise RecordingFetchError(f"recording is {length} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise RecordingFetchError(f"recording is larger than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
