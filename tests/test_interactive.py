"""The signer's interactive paths, as people use them: a terminal and a browser.

Every command here runs as a real process on a pseudo-terminal (stdlib ``pty``),
so ``isatty`` is true, click prompts, and PINs are read with echo off:

* ``repo-sign sign/<event> --key sigstore``, the headline flow: sigstore-python's
  browser sign-in (OAuth code flow with PKCE) against a local OpenID provider
  (``tests/fake_oidc.py``), opened through ``$BROWSER`` (a stand-in that follows
  the authorization URL over HTTP back to sigstore-python's local callback),
  certificates from the fake Sigstore (``tests/fake_sigstore.py``); the
  signature then satisfies status, as CI checks it;
* "Sign and push?": ``n`` leaves the remote alone, ``y`` pushes;
* a wrong hardware-key PIN (SoftHSM2), retried on the terminal;
* a key asked for on the terminal when none is given or configured.

No sleeps: each step waits (with a deadline) for the text the user would see.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import pty
import re
import select
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from conftest import World, git, init_repo
from fake_oidc import BROWSER_DENY_ENV, BROWSER_LOG_ENV, GITHUB_CONNECTOR, FakeOIDC, write_browser
from fake_sigstore import FakeSigstore
from softhsm import PIN, SoftHSM, softhsm

__all__ = ["softhsm"]  # the session fixture, used by name below

BIN = Path(sys.executable).parent
DEADLINE = 60.0  # seconds for one expected line: generous for a loaded 2-core machine
BOB = "bob@example.com"


class Terminal:
    """A process on a pseudo-terminal: what it prints, and a keyboard.

    The terminal is the process's controlling terminal (``pty.fork``), as in
    a shell, so ``/dev/tty`` works and echo is the line discipline's.
    """

    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.transcript = ""
        self._seen = 0  # transcript offset up to which expect() consumed
        self._closed = False
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: nothing but exec
            os.chdir(cwd)
            os.execve(argv[0], argv, env)  # noqa: S606 - our own console scripts

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False at end of output."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError as e:  # Linux: EIO once the child's side is closed
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._closed = True
            return False
        self.transcript += data.decode(errors="replace").replace("\r\n", "\n")
        return True

    def ask(self, question: str, answer: str) -> str:
        """Wait for ``question`` and its ``[y/N]:``-style end, then type ``answer``."""
        before = self.expect(question)
        self.expect("]: ")
        self.send(answer)
        return before

    def expect(self, text: str) -> str:
        """Wait until ``text`` (a literal) appears after what was expected before."""
        deadline = time.monotonic() + DEADLINE
        while (found := self.transcript.find(text, self._seen)) < 0:
            remaining = deadline - time.monotonic()
            if self._closed or remaining <= 0 or not self._read(remaining):
                pytest.fail(f"never saw {text!r}; the terminal showed:\n{self.transcript}")
        before = self.transcript[self._seen : found]
        self._seen = found + len(text)
        return before

    def send(self, line: str) -> None:
        """Type ``line`` and Enter (a terminal sends CR; the tty turns it into NL)."""
        os.write(self.fd, line.encode() + b"\r")

    def wait(self) -> int:
        """Read to the end; the exit code."""
        deadline = time.monotonic() + DEADLINE
        while not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(self.pid, signal.SIGKILL)
                pytest.fail(f"the process did not end; the terminal showed:\n{self.transcript}")
            self._read(remaining)
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    @property
    def rest(self) -> str:
        """The transcript after the last expected text."""
        return self.transcript[self._seen :]


def terminal(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> Terminal:
    """Run a console script of this virtualenv (``repo-sign``, ``tufrepo``) on a terminal."""
    full = {**os.environ, "TERM": "xterm", **(env or {})}
    for variable in ("DISPLAY", "WAYLAND_DISPLAY"):  # only $BROWSER may open a browser
        full.pop(variable, None)
    return Terminal([str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=full)


def tip(world: World, event: str) -> str:
    return git(world.origin, "rev-parse", f"refs/heads/{event}")


def clock(world: World) -> None:
    """Set the world's clock to the real time, the clock of ``repo-sign`` (it has no --now).

    Called before the first command and again before judging: what a
    terminal session signed is judged after it was signed, never before.
    """
    world.now = datetime.now(UTC).replace(microsecond=0)


# --- Sigstore with a browser ----------------------------------------------------------------


@dataclass
class Browser:
    """The OpenID provider, the Sigstore instance, and the environment naming both."""

    oidc: FakeOIDC
    sigstore: FakeSigstore
    env: dict[str, str]
    log: Path

    def visits(self) -> list[dict[str, Any]]:
        """What the browser did, one entry per time it was opened."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    with FakeOIDC(identity=BOB) as oidc, FakeSigstore() as fake:
        fake.oidc_url = oidc.url
        trust = fake.write_trust_config(tmp_path / "trust.json")
        # in-process commands (CI's status) verify against the same instance
        monkeypatch.setenv("TUFREPO_SIGSTORE_TRUST_CONFIG", str(trust))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        log = tmp_path / "browser.log"
        env = {
            "BROWSER": str(write_browser(tmp_path)),
            BROWSER_LOG_ENV: str(log),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
        yield Browser(oidc, fake, env, log)


def test_repo_sign_with_a_browser_sign_in(world: World, browser: Browser) -> None:
    """Bob, invited to targets, signs with his Sigstore identity: declines once, then signs."""
    alice, bob = world.user("alice"), world.user("bob")
    clock(world)
    done = init_repo(world, alice, "--signer", "targets=@alice", "--signer", "targets=@bob",
                     "--threshold", "targets=2")  # fmt: skip
    assert done.exit_code == 0, done.output
    before = tip(world, "sign/init")

    # n: he signs in to accept the invitation, reads the summary, and declines
    term = terminal(bob.clone, "repo-sign", "sign/init", "--key", "sigstore", env=browser.env)
    term.expect("You have been invited to sign targets.")
    term.expect("Waiting for browser interaction...")
    summary = term.ask("Sign and push?", "n")
    assert "targets v1 (new)" in summary
    term.expect("Not signed: nothing was saved or pushed.")
    assert term.wait() == 0, term.transcript
    assert tip(world, "sign/init") == before, "nothing pushed"

    # y: signed in again to sign, and pushed
    term = terminal(bob.clone, "repo-sign", "sign/init", "--key", "sigstore", env=browser.env)
    term.ask("Sign and push?", "y")
    term.expect("Signed targets as @bob.")
    term.expect("Pushed to origin")
    assert term.wait() == 0, term.transcript
    assert tip(world, "sign/init") != before

    # every sign-in went through the browser, the provider and back, with PKCE
    visits = browser.visits()
    assert len(visits) == len(browser.oidc.authorizations) >= 3
    for visit in visits:
        first, auth, callback = visit["visited"]
        assert re.fullmatch(r"http://localhost:\d+/?", first)
        assert auth.startswith(f"{browser.oidc.url}/auth?")
        assert re.fullmatch(r"http://localhost:\d+/auth/callback\?code=[^&]+&state=.+", callback)
        assert visit["success"] is True
    assert all(a.redeemed for a in browser.oidc.authorizations)
    assert browser.oidc.refusals == []

    # bob's acceptance changed root (his key is in it): alice signs it again; then CI's
    # status verifies bob's Sigstore signature and finds the event ready
    clock(world)
    signed = alice.sign("sign/init")
    assert signed.exit_code == 0, signed.output
    code, report = world.status("sign/init")
    assert code == 0, report
    [targets] = [r for r in report["roles"] if r["role"] == "targets"]
    assert targets["signers"]["signed"] == ["@alice", "@bob"]
    metadata = json.loads(git(world.ci, "show", "HEAD:metadata/targets.json"))
    keys = (
        metadata["signed"].get("delegations", {}).get("keys")
        or json.loads(git(world.ci, "show", "HEAD:metadata/root.json"))["signed"]["keys"]
    )
    sigstore_keys = [k for k in keys.values() if k["keytype"] == "sigstore-oidc"]
    assert [k["keyval"] for k in sigstore_keys] == [{"identity": BOB, "issuer": GITHUB_CONNECTOR}]


def test_a_cancelled_browser_sign_in_signs_nothing(world: World, browser: Browser) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    clock(world)
    done = init_repo(world, alice, "--signer", "targets=@bob")
    assert done.exit_code == 0, done.output
    before = tip(world, "sign/init")
    term = terminal(bob.clone, "repo-sign", "sign/init", "--key", "sigstore",
                    env={**browser.env, BROWSER_DENY_ENV: "1"})  # fmt: skip
    term.expect("error: Sigstore sign-in failed:")
    assert "access_denied" in term.rest
    assert term.wait() == 6, term.transcript
    assert tip(world, "sign/init") == before
    assert browser.oidc.tokens == []


def test_signing_in_with_the_wrong_account_is_caught_before_signing(
    world: World, browser: Browser
) -> None:
    """Bob's key is bob@example.com; he signs in as mallory first, then tries again."""
    alice, bob = world.user("alice"), world.user("bob")
    clock(world)
    done = init_repo(world, alice, "--signer", "targets=@alice", "--signer", "targets=@bob",
                     "--threshold", "targets=2")  # fmt: skip
    assert done.exit_code == 0, done.output
    term = terminal(bob.clone, "repo-sign", "sign/init", "--key", "sigstore", "--no-push",
                    env=browser.env)  # fmt: skip
    term.expect("Sign (and keep the result local)?")  # after enrolling as bob
    term.expect("]: ")
    browser.oidc.identity = "mallory@example.com"
    entries = len(browser.sigstore.log)
    term.send("y")
    term.expect("the Sigstore token is for mallory@example.com, the key expects bob@example.com")
    assert len(browser.sigstore.log) == entries, "nothing was logged in the wrong name"
    browser.oidc.identity = BOB
    term.ask("Try again?", "y")
    term.expect("Signed targets as @bob.")
    assert term.wait() == 0, term.transcript
    assert len(browser.sigstore.log) == entries + 1


def test_the_provider_insists_on_pkce_and_one_time_codes(browser: Browser) -> None:
    """The stand-in checks what the real flow relies on (so the test above can fail)."""
    oidc = browser.oidc
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {"response_type": "code", "client_id": "sigstore", "scope": "openid email",
             "redirect_uri": "http://localhost:1/auth/callback", "state": "s",
             "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256"}  # fmt: skip
    status, location = oidc.authorize(query)
    assert status == 302
    assert location is not None
    code = parse_qs(urlsplit(location).query)["code"][0]
    basic = "Basic " + base64.b64encode(b"sigstore:").decode()
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": query["redirect_uri"], "code_verifier": "w" * 43}  # fmt: skip
    assert oidc.token(basic, form)[0] == 400
    assert oidc.token(basic, {**form, "code_verifier": verifier})[0] == 400, "code used up"
    assert oidc.authorize({**query, "code_challenge_method": "plain"}) == (400, None)
    assert oidc.authorize({**query, "redirect_uri": "https://evil.example/cb"}) == (400, None)
    status, location = oidc.authorize(query)
    code = parse_qs(urlsplit(location or "").query)["code"][0]
    status, answer = oidc.token(basic, {**form, "code": code, "code_verifier": verifier})
    assert status == 200
    assert answer["access_token"] == oidc.tokens[-1]
    # and over HTTP, as sigstore-python and the browser reach it
    discovery = f"{oidc.url}/.well-known/openid-configuration"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(discovery, timeout=10) as response:
        assert json.load(response)["token_endpoint"] == f"{oidc.url}/token"
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{oidc.url}/auth?{urlencode({**query, 'client_id': 'x'})}", timeout=10)
    assert refused.value.code == 400


# --- hardware keys and missing keys ------------------------------------------------------------


def test_a_wrong_pin_is_asked_again_on_the_terminal(world: World, softhsm: SoftHSM) -> None:
    alice = world.user("alice")
    ini = alice.clone / ".tuf-on-ci-sign.ini"
    ini.write_text(ini.read_text() + f"pykcs11lib = {softhsm.library}\n")
    term = terminal(alice.clone, "tufrepo", "--now", world.now.isoformat(), "init", "sign/init",
                    "--online-key", world.online_uri, "--key", "hsm:2?label=alice-token",
                    env=softhsm.subprocess_env())  # fmt: skip
    term.expect("Enter pin to sign (touch the key if it blinks): ")
    term.send("0000")
    term.expect("wrong PIN for hardware key 'alice-token'")
    term.ask("Try again?", "y")
    term.expect("Enter pin to sign (touch the key if it blinks): ")
    term.send(PIN)
    term.expect("Signed")
    assert term.wait() == 0, term.transcript
    assert "0000" not in term.transcript, "PINs are not echoed"
    assert PIN not in term.transcript
    root = json.loads(git(world.origin, "show", "sign/init:metadata/root.json"))
    assert len(root["signatures"]) == 1
    assert root["signatures"][0]["sig"]


def test_a_missing_key_is_asked_for(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    clock(world)
    done = init_repo(world, alice, "--signer", "targets=@alice", "--signer", "targets=@bob",
                     "--threshold", "targets=2")  # fmt: skip
    assert done.exit_code == 0, done.output
    term = terminal(bob.clone, "repo-sign", "sign/init")
    term.expect("Signer URI of your key (e.g. file2:key.pem, hsm, sigstore): ")
    term.send(bob.key_uri)
    term.ask("Sign and push?", "y")
    term.expect("Pushed to origin")
    assert term.wait() == 0, term.transcript
    clock(world)
    assert alice.sign("sign/init").exit_code == 0  # root changed with bob's key
    code, report = world.status("sign/init")
    assert code == 0, report
