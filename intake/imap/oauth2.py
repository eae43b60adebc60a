"""OAuth2 refresh-token grant (RFC 6749 section 6) for XOAUTH2 logins.

Microsoft 365 and Gmail refuse IMAP passwords: a worker trades the stored refresh token for a
short-lived access token before each login, and stores the rotated refresh token if the
provider sends one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from intake.imap.config import OAuth2Credentials
from intake.imap.failures import ImapAuthError

# Refresh this long before the provider's expiry so a login never races the clock.
EXPIRY_MARGIN_SECONDS = 120.0


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: float  # time.time() seconds
    refresh_token: str | None = None  # set when the provider rotated it

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - EXPIRY_MARGIN_SECONDS


def refresh_request_body(creds: OAuth2Credentials) -> bytes:
    fields = {
        "grant_type": "refresh_token",
        "refresh_token": creds.refresh_token,
        "client_id": creds.client_id,
    }
    if creds.client_secret:
        fields["client_secret"] = creds.client_secret
    if creds.scope:
        fields["scope"] = creds.scope
    return urllib.parse.urlencode(fields).encode("ascii")


def parse_token_response(body: bytes, now: float) -> AccessToken:
    try:
        data = json.loads(body)
    except ValueError:
        raise ImapAuthError("token endpoint answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise ImapAuthError("token endpoint answered something that is not a JSON object")
    if "error" in data:
        description = data.get("error_description") or ""
        raise ImapAuthError(
            f"token endpoint refused the refresh: {data['error']} {description}".strip()
        )
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise ImapAuthError("token endpoint answered without an access_token")
    try:
        expires_in = float(data.get("expires_in", 3600))
    except (TypeError, ValueError):
        expires_in = 3600.0
    rotated = data.get("refresh_token")
    return AccessToken(
        token, now + expires_in, rotated if isinstance(rotated, str) and rotated else None
    )


def refresh_access_token(creds: OAuth2Credentials, timeout: float = 30.0) -> AccessToken:
    """POST the refresh grant; raises ImapAuthError with the endpoint's own error text."""
    if not creds.token_url.startswith(("https://", "http://")):
        raise ImapAuthError(f"token URL must be http(s), got {creds.token_url!r}")
    request = urllib.request.Request(
        creds.token_url,
        data=refresh_request_body(creds),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(1024 * 1024)
    except urllib.error.HTTPError as exc:
        # Providers put the reason (invalid_grant: token expired/revoked) in the error body.
        body = exc.read(1024 * 1024)
        exc.close()
        try:
            return parse_token_response(body, time.time())
        except ImapAuthError as inner:
            if "refused" in str(inner):
                raise
            raise ImapAuthError(f"token endpoint answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImapAuthError(f"token endpoint unreachable: {reason}") from None
    return parse_token_response(body, time.time())
