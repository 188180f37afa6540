"""A local OpenID Connect provider for sigstore-python's browser sign-in, and a browser.

sigstore-python signs people in with OAuth 2.0's authorization-code flow and
PKCE (``sigstore.oidc.Issuer.identity_token``): it reads the provider's
``/.well-known/openid-configuration``, listens on a local port for the
redirect, opens the user's browser (Python's ``webbrowser``, which runs the
program named by ``$BROWSER``) at that port, and trades the code it receives
for an ID token at the token endpoint.  :class:`FakeOIDC` is that provider:

* ``GET /.well-known/openid-configuration``: discovery (issuer, endpoints);
* ``GET /auth``: checks the request (client ``sigstore``, ``response_type=code``,
  an S256 code challenge, a loopback redirect URI, a state) and, as if the user
  had signed in, redirects to the redirect URI with a one-time code and the state;
* ``POST /token``: checks the client (HTTP basic auth), the code, the redirect
  URI and the PKCE verifier against the challenge, and answers with an ID token
  for which the fake Fulcio (``tests/fake_sigstore.py``) certifies ``identity``.

Tokens look like those of Sigstore's own Dex instance: issuer
``https://oauth2.sigstore.dev/auth``, the identity in ``email``, the upstream
provider in ``federated_claims.connector_id`` (the certificate's issuer).

Run as a program, this module is the browser (``$BROWSER``, see
:func:`write_browser`): it follows the URL sigstore-python opens over HTTP,
through the provider and back to sigstore-python's local callback, and logs
each URL it visits.  Setting ``FAKE_BROWSER_DENY=1`` makes the "user" cancel
the sign-in: instead of the provider's page it goes back to the callback with
``error=access_denied``, as a provider does when the user cancels.

Not for: anything but tests (tokens are signed with a throw-away key that
nobody verifies, as in the fake Sigstore), refresh tokens, device flow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shlex
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

SIGSTORE_DEX = "https://oauth2.sigstore.dev/auth"
GITHUB_CONNECTOR = "https://github.com/login/oauth"
CLIENT_ID = "sigstore"
BROWSER_LOG_ENV = "FAKE_BROWSER_LOG"
BROWSER_DENY_ENV = "FAKE_BROWSER_DENY"


@dataclass
class Authorization:
    """One sign-in: what /auth was asked, and whether /token redeemed its code."""

    redirect_uri: str
    challenge: str
    state: str
    code: str
    redeemed: bool = False


@dataclass
class FakeOIDC:
    """The provider's state: who signs in, and every sign-in and refusal so far."""

    identity: str = "alice@example.com"
    connector: str = GITHUB_CONNECTOR
    issuer: str = SIGSTORE_DEX
    authorizations: list[Authorization] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why a request was refused
    tokens: list[str] = field(default_factory=list)  # ID tokens issued

    def __post_init__(self) -> None:
        from webserver import Served, Server  # noqa: PLC0415 - not needed by the browser

        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake._lock:
                    if url.path == "/.well-known/openid-configuration":
                        self._json(200, fake.discovery())
                    elif url.path == "/auth":
                        status, location = fake.authorize(query)
                        self.send_response(status)
                        if location:
                            self.send_header("Location", location)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake._lock:
                    if urlsplit(self.path).path == "/token":
                        self._json(*fake.token(self.headers.get("Authorization", ""), form))
                    else:
                        self._json(404, {"error": "not_found"})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._served = Served(server=Server(Handler))

    @property
    def url(self) -> str:
        """The provider's base URL (the signing config's ``oidcUrls`` entry)."""
        return self._served.url

    def __enter__(self) -> Self:
        self._served.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._served.stop()

    # --- the protocol ---------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        """The OpenID configuration document."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/auth",
            "token_endpoint": f"{self.url}/token",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }

    def _refuse(self, status: int, why: str) -> tuple[int, dict[str, Any]]:
        self.refusals.append(why)
        return status, {"error": why}

    def authorize(self, query: dict[str, str]) -> tuple[int, str | None]:
        """The authorization endpoint: a redirect with a code, or 400 for a bad request."""
        redirect = query.get("redirect_uri", "")
        target = urlsplit(redirect)
        problems = [
            why
            for why, bad in (
                ("unknown client", query.get("client_id") != CLIENT_ID),
                ("unsupported response_type", query.get("response_type") != "code"),
                ("PKCE S256 required", query.get("code_challenge_method") != "S256"),
                ("no code_challenge", not query.get("code_challenge")),
                ("no state", not query.get("state")),
                ("redirect_uri not on loopback", target.scheme != "http"
                 or (target.hostname or "") not in ("localhost", "127.0.0.1", "::1")),
                ("openid scope missing", "openid" not in query.get("scope", "").split()),
            )
            if bad
        ]  # fmt: skip
        if problems:
            self.refusals.extend(problems)
            return 400, None
        state = query["state"]
        code = secrets.token_urlsafe(16)
        self.authorizations.append(Authorization(redirect, query["code_challenge"], state, code))
        return 302, f"{redirect}?{urlencode({'code': code, 'state': state})}"

    def token(self, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint: an ID token for a valid, unused code and its PKCE verifier."""
        scheme, _, credentials = authorization.partition(" ")
        client = base64.b64decode(credentials).decode().partition(":")[0] if credentials else ""
        if scheme.lower() != "basic" or client != CLIENT_ID:
            return self._refuse(401, "invalid_client")
        if form.get("grant_type") != "authorization_code":
            return self._refuse(400, "unsupported_grant_type")
        found = [a for a in self.authorizations if a.code == form.get("code")]
        if not found or found[0].redeemed:
            return self._refuse(400, "invalid_grant: unknown or used code")
        grant = found[0]
        grant.redeemed = True  # one use, even when the rest is wrong
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse(400, "invalid_grant: redirect_uri differs")
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return self._refuse(400, "invalid_grant: PKCE verifier does not match")
        from fake_sigstore import mint_token  # noqa: PLC0415 - not needed by the browser

        token = mint_token(
            self.identity,
            self.issuer,
            extra_claims={"federated_claims": {"connector_id": self.connector,
                                               "user_id": "4711"}},
        )  # fmt: skip
        self.tokens.append(token)
        return 200, {"access_token": token, "id_token": token, "token_type": "bearer",
                     "expires_in": 300}  # fmt: skip


# --- the browser ----------------------------------------------------------------------


def write_browser(directory: Path) -> Path:
    """An executable for ``$BROWSER`` that runs this module's browser with this Python."""
    path = directory / "fake-browser"
    path.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(__file__)} "$@"\n'
    )
    path.chmod(0o755)
    return path


def browse(url: str, log: Path | None) -> int:
    """Follow ``url`` and its redirects as a browser would; 0 when the page loaded."""
    visited: list[str] = []

    class Recording(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                             newurl: str) -> Any:  # fmt: skip
            visited.append(newurl)
            if os.environ.get(BROWSER_DENY_ENV) == "1" and urlsplit(newurl).path == "/auth":
                query = {k: v[0] for k, v in parse_qs(urlsplit(newurl).query).items()}
                denied = urlencode({"error": "access_denied", "state": query.get("state", "")})
                newurl = f"{query['redirect_uri']}?{denied}"
                visited.append(newurl)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    # No proxies: everything here is on the loopback interface.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), Recording())
    visited.append(url)
    try:
        with opener.open(url, timeout=30) as page:
            status = page.status
            body = page.read().decode(errors="replace")
    except OSError as e:
        status, body = getattr(e, "code", 0), str(e)
    if log is not None:
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"visited": visited, "status": status,
                                "success": "authentication successful" in body}) + "\n")  # fmt: skip
    return 0 if status == 200 else 1


if __name__ == "__main__":
    logged = os.environ.get(BROWSER_LOG_ENV)
    sys.exit(browse(sys.argv[1], Path(logged) if logged else None))
