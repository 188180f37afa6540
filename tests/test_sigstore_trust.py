"""Which Sigstore instance judges Sigstore signatures, and how its trust root is obtained.

* The verifier chooses the instance (``--sigstore-trust-config``,
  ``TUFREPO_SIGSTORE_TRUST_CONFIG``, else production); a
  ``sigstore-trust-config.json`` in the tree under judgement is never read.
  Otherwise anyone with push rights could commit one naming their own Fulcio
  and Rekor, and signatures they forge there for a real signer's identity
  would count.
* Production's trust root is refreshed once per process, one try per request.
  When Sigstore's TUF repository cannot be reached, one warning line, and the
  cached (else embedded) copy for every verification in that process.  A
  pinned trust config never touches the network.

"Unreachable" is made deterministic, online or not: every ``*_proxy`` variable
points at :class:`DeadProxy` on 127.0.0.1, which counts connections and
hangs up on each.  Two fake Sigstore instances (tests/fake_sigstore.py) play
the honest instance and the attacker's.
"""

from __future__ import annotations

import json
import logging
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from conftest import NOW, World, git, run
from fake_sigstore import GOOGLE_ISSUER, FakeSigstore, mint_token
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import CryptoSigner, Key, Signature
from sigstore._internal.tuf import DEFAULT_TUF_URL, _get_dirs
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from webserver import Served, serve_directory

from tufrepo.core.repository import serialize
from tufrepo.signers import sigstore as sigstore_backend
from tufrepo.signers import sigstore_lazy

BOB = "bob@example.com"
TREE_FILE = "sigstore-trust-config.json"
WARNING = "warning: cannot refresh the Sigstore trust root from https://tuf-repo-cdn.sigstore.dev"
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class _HangUp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, DeadProxy)
        server.count()


class DeadProxy(socketserver.ThreadingTCPServer):
    """A proxy on 127.0.0.1 that counts connections and closes each one unanswered."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HangUp)
        self.connections = 0
        self._lock = threading.Lock()
        self._served = Served(server=self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self) -> None:
        with self._lock:
            self.connections += 1

    def env(self) -> dict[str, str]:
        """Variables that send every HTTP(S) request through this proxy."""
        return dict.fromkeys(_PROXY_VARS, self.url)

    def __enter__(self) -> Self:
        self._served.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._served.stop()


def base_env() -> dict[str, str]:
    """The test's environment without proxies, XDG directories or a trust config."""
    dropped = ("TUFREPO_SIGSTORE_TRUST_CONFIG", "XDG_CACHE_HOME", "XDG_DATA_HOME")
    return {
        k: v
        for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and k not in dropped
    }


def tufrepo(
    cwd: Path, *args: str, env: dict[str, str], token: str | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**env, "SIGSTORE_IDENTITY_TOKEN": token} if token else env
    return subprocess.run([sys.executable, "-m", "tufrepo", "--now", NOW.isoformat(), "-C", str(cwd), *args],
                          capture_output=True, text=True, env=full, check=False)  # fmt: skip


def ok(done: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert done.returncode == code, done.stdout + done.stderr
    return done


def status(world: World, event: str, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    """``tufrepo --json status`` in the CI clone on ``event``: exit code, report, stderr."""
    checkout(world, event)
    done = tufrepo(world.ci, "--json", "status", env=env)
    return done.returncode, json.loads(done.stdout.splitlines()[0]), done.stderr


def checkout(world: World, branch: str) -> None:
    git(world.ci, "fetch", "-q", "--prune")
    git(world.ci, "checkout", "-q", "-B", branch, f"origin/{branch}")


def targets_signers(report: dict[str, Any]) -> dict[str, Any]:
    signers: dict[str, Any] = next(r for r in report["roles"] if r["role"] == "targets")["signers"]
    return signers


def sign_with(instance: FakeSigstore, identity: str, payload: bytes) -> dict[str, Any]:
    """A Sigstore bundle for ``payload`` by ``identity`` (Google issuer) at ``instance``."""
    config = ClientTrustConfig.from_json(json.dumps(instance.trust_config_json()))
    token = IdentityToken(mint_token(identity, GOOGLE_ISSUER))
    with SigningContext.from_trust_config(config).signer(token) as signer:
        bundle = signer.sign_artifact(payload)
    loaded: dict[str, Any] = json.loads(bundle.to_json())
    return loaded


def forge_targets_signature(clone: Path, owner: str, instance: FakeSigstore) -> None:
    """Put a signature made at ``instance`` in ``owner``'s slot of targets.json."""
    root = json.loads((clone / "metadata" / "root.json").read_bytes())["signed"]
    keyid, key = next(
        (keyid, k) for keyid, k in root["keys"].items() if k.get("x-tuf-on-ci-keyowner") == owner
    )
    path = clone / "metadata" / "targets.json"
    md = Metadata.from_bytes(path.read_bytes())
    bundle = sign_with(instance, key["keyval"]["identity"], md.signed_bytes)
    md.signatures[keyid] = Signature(
        keyid, bundle["messageSignature"]["signature"], {"bundle": bundle}
    )
    path.write_bytes(serialize(md))


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


# --- the instance is the verifier's choice, never the tree's ---------------------------------


def test_a_trust_config_committed_to_the_repository_is_never_used(
    world: World, tmp_path: Path
) -> None:
    honest, attacker = FakeSigstore().start(), FakeSigstore().start()
    try:
        honest_config = honest.write_trust_config(tmp_path / "honest.json")
        env = base_env()
        by_env = {**env, "TUFREPO_SIGSTORE_TRUST_CONFIG": str(honest_config),
                  "NO_PROXY": "127.0.0.1"}  # fmt: skip
        # root: alice's file key; targets: alice and bob, whose key is a Sigstore identity
        alice, bob = world.user("alice"), world.user("bob")
        ok(tufrepo(alice.clone, "init", "sign/init", "--signer", "targets=@alice", "--signer", "targets=@bob",
                   "--threshold", "targets=2", "--online-key", world.online_uri, "--key", alice.key_uri,
                   env=by_env))  # fmt: skip
        ok(tufrepo(bob.clone, "sign", "sign/init", "--key", "sigstore", env=by_env,
                   token=mint_token(BOB, GOOGLE_ISSUER)))  # fmt: skip
        ok(tufrepo(alice.clone, "sign", "sign/init", "--key", alice.key_uri, env=by_env))
        code, report, _ = status(world, "sign/init", by_env)
        assert code == 0, report
        assert targets_signers(report)["signed"] == ["@alice", "@bob"]
        world.merge("sign/init")
        checkout(world, "main")
        ok(tufrepo(world.ci, "online-sign", "--push", env=by_env))

        # mallory can push, but holds no key: she commits her own instance's trust
        # config to main, then forges bob's signature there on an ordinary event
        mallory = world.root / "mallory"
        git(world.root, "clone", "-q", str(world.origin), str(mallory))
        attacker.write_trust_config(mallory / TREE_FILE)
        git(mallory, "add", TREE_FILE)
        git(mallory, "commit", "-q", "-m", "Use our Sigstore instance")
        git(mallory, "push", "-q", "origin", "main")
        git(alice.clone, "pull", "-q", "origin", "main")
        ok(tufrepo(alice.clone, "delegate", "sign/x", "targets", "--expiry", "200",
                   "--key", alice.key_uri, env=by_env))  # fmt: skip
        git(mallory, "fetch", "-q")
        git(mallory, "checkout", "-q", "sign/x")
        assert (mallory / TREE_FILE).is_file(), "the event's tree names mallory's instance"
        forge_targets_signature(mallory, "@bob", attacker)
        git(mallory, "commit", "-q", "-a", "-m", "Sign targets")
        git(mallory, "push", "-q", "origin", "sign/x")
    finally:
        honest.stop()
        attacker.stop()

    # a verifier that names no instance gets production (unreachable here), not mallory's
    with DeadProxy() as proxy:
        code, report, stderr = status(world, "sign/x", {**env, **proxy.env()})
    assert code == 3, report  # waiting for bob, not ready
    assert targets_signers(report) == {
        "threshold": 2, "signed": ["@alice"], "missing": ["@bob"], "invalid": ["@bob"]
    }  # fmt: skip
    assert proxy.connections == 1, "production tried once, no retries"
    assert len(warnings_in(stderr)) == 1, stderr
    assert warnings_in(stderr)[0].startswith(WARNING)
    assert "Retrying" not in stderr
    assert TREE_FILE not in stderr, "the file in the tree is simply ignored"

    # the honest instance, by env: mallory's signature is still an invalid one of bob's
    code, report, stderr = status(world, "sign/x", by_env)
    assert code == 3, report
    assert targets_signers(report)["invalid"] == ["@bob"]
    assert warnings_in(stderr) == []

    # mallory merges her event herself: CI neither online-signs nor vouches for that main
    git(mallory, "checkout", "-q", "main")
    git(mallory, "merge", "-q", "--no-ff", "-m", "Merge sign/x", "sign/x")
    git(mallory, "push", "-q", "origin", "main")
    checkout(world, "main")
    for verifier in (env, by_env):
        with DeadProxy() as proxy:
            refused = tufrepo(world.ci, "online-sign", env={**verifier, **proxy.env()})
            done = tufrepo(world.ci, "--json", "verify", env={**verifier, **proxy.env()})
            assert proxy.connections == (0 if verifier is by_env else 2)  # one per process
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert done.returncode == 4, done.stdout + done.stderr
        findings = json.loads(done.stdout.splitlines()[0])["findings"]
        unsigned = [
            f["message"] for f in findings if (f["role"], f["code"]) == ("targets", "unsigned")
        ]
        assert unsigned, findings
        assert all("targets was signed by 1/2 keys" in m for m in unsigned), unsigned

    # bob's own signature, made at the honest instance, counts when the verifier
    # names it; checking it needs no network (instance stopped, every request refused)
    git(world.ci, "reset", "-q", "--hard", "origin/main~2")  # as online-signed, before mallory
    with DeadProxy() as proxy:
        done = ok(tufrepo(world.ci, "--sigstore-trust-config", str(honest_config), "--json", "verify",
                          env={**env, **proxy.env()}))  # fmt: skip
        assert proxy.connections == 0
    assert warnings_in(done.stderr) == []


def test_help_says_a_trust_config_in_the_tree_is_never_used() -> None:
    text = " ".join(run("--help").output.split())
    assert "[env TUFREPO_SIGSTORE_TRUST_CONFIG; else production]" in text
    assert f"A {TREE_FILE} in the checkout is never used" in text


def test_the_instance_is_the_option_else_the_env_else_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tufrepo.cli import _trust_config  # noqa: PLC0415

    (tmp_path / ".git").mkdir()
    (tmp_path / TREE_FILE).write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert _trust_config(None) is None, "production, whatever the checkout holds"
    monkeypatch.setenv("TUFREPO_SIGSTORE_TRUST_CONFIG", "/env.json")
    assert _trust_config(None) == Path("/env.json")
    assert _trust_config(Path("/option.json")) == Path("/option.json")


# --- production's trust root, offline ----------------------------------------------------------


@pytest.fixture
def honest() -> Iterator[FakeSigstore]:
    with FakeSigstore() as fake:
        yield fake


@pytest.fixture
def signed(honest: FakeSigstore, monkeypatch: pytest.MonkeyPatch) -> tuple[Key, Signature, bytes]:
    """bob's Sigstore key and his signature over some bytes, made at the honest instance."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    payload = b"signed bytes"
    bundle = sign_with(honest, BOB, payload)
    _, key = sigstore_backend.enrol_person(mint_token(BOB, GOOGLE_ISSUER))
    signature = Signature(key.keyid, bundle["messageSignature"]["signature"], {"bundle": bundle})
    return key, signature, payload


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[DeadProxy]:
    """Every request goes to a DeadProxy; sigstore-python's cache is the test's own (HOME)."""
    for name in [*os.environ]:
        if name.lower().endswith("_proxy") or name in ("XDG_CACHE_HOME", "XDG_DATA_HOME"):
            monkeypatch.delenv(name)
    with DeadProxy() as proxy:
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        yield proxy


@pytest.fixture
def instance() -> Iterator[None]:
    """Forget this process's decision about the Sigstore instance before and after."""
    sigstore_backend._trust_config.cache_clear()  # the per-process decision
    yield
    sigstore_backend._trust_config.cache_clear()
    sigstore_backend.register(None)


def test_offline_production_is_tried_once_with_one_warning(
    signed: tuple[Key, Signature, bytes],
    unreachable: DeadProxy,
    instance: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key, signature, payload = signed
    sigstore_backend.register(None)
    caplog.set_level(logging.WARNING)
    first = sigstore_backend.trust_config()
    for _ in range(3):
        # made at another instance than production: invalid, not "no trust root"
        with pytest.raises(UnverifiedSignatureError) as raised:
            key.verify_signature(signature, payload)
        assert "TUF" not in str(raised.value.__cause__)
    assert sigstore_backend.trust_config() is first, "the decision is kept for the process"
    assert unreachable.connections == 1
    assert [(r.name, r.levelname) for r in caplog.records] == [
        ("tufrepo.signers.sigstore", "WARNING")
    ]
    message = caplog.records[0].getMessage()
    assert "\n" not in message
    assert message.startswith(WARNING.removeprefix("warning: "))
    assert message.endswith("; using the copy embedded in sigstore-python")


def test_offline_production_uses_the_cached_trust_root(
    honest: FakeSigstore,
    signed: tuple[Key, Signature, bytes],
    unreachable: DeadProxy,
    instance: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # sigstore-python's cache holds a trust root from an earlier refresh (here: the
    # honest fake's, so that a signature can verify without the network)
    cache = _get_dirs(DEFAULT_TUF_URL)[1]
    assert str(cache).startswith(os.environ["HOME"])
    cache.mkdir(parents=True)
    config = honest.trust_config_json()
    (cache / "trusted_root.json").write_text(json.dumps(config["trustedRoot"]))
    (cache / "signing_config.v0.2.json").write_text(json.dumps(config["signingConfig"]))
    honest.stop()
    key, signature, payload = signed
    sigstore_backend.register(None)
    caplog.set_level(logging.WARNING)
    key.verify_signature(signature, payload)
    key.verify_signature(signature, payload)
    assert unreachable.connections == 1
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().endswith("; using the cached copy")


def test_a_pinned_trust_config_never_touches_the_network(
    honest: FakeSigstore,
    signed: tuple[Key, Signature, bytes],
    unreachable: DeadProxy,
    instance: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pinned = honest.write_trust_config(tmp_path / "pinned.json")
    honest.stop()
    key, signature, payload = signed
    sigstore_backend.register(pinned)
    caplog.set_level(logging.WARNING)
    key.verify_signature(signature, payload)
    assert unreachable.connections == 0
    assert caplog.records == []


def test_the_instance_chosen_before_sigstore_loads_binds_the_keys_parsed_later(
    honest: FakeSigstore,
    signed: tuple[Key, Signature, bytes],
    unreachable: DeadProxy,
    instance: None,
    tmp_path: Path,
) -> None:
    # #14: the CLI registers placeholders; Sigstore support loads with the first
    # Sigstore key parsed, and must still use the instance chosen at start-up
    # (else a pinned instance's signatures would be checked against production)
    pinned = honest.write_trust_config(tmp_path / "pinned.json")
    honest.stop()
    key, signature, payload = signed
    sigstore_lazy.register(pinned)
    parsed = Key.from_dict(key.keyid, key.to_dict())
    assert type(parsed) is sigstore_backend.InstanceSigstoreKey
    parsed.verify_signature(signature, payload)
    assert unreachable.connections == 0


class _Logged(SimpleHTTPRequestHandler):
    paths: list[str]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.paths.append(self.path)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


def tuf_repository(directory: Path, files: dict[str, bytes]) -> bytes:
    """A TUF repository with one key for every role, serving ``files``; its root's bytes."""
    signer = CryptoSigner.generate_ed25519()
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    root = Metadata(Root(expires=expires, consistent_snapshot=False))
    for role in ("root", "targets", "snapshot", "timestamp"):
        root.signed.add_key(signer.public_key, role)
    targets = Metadata(Targets(expires=expires))
    (directory / "targets").mkdir(parents=True)
    for name, data in files.items():
        (directory / "targets" / name).write_bytes(data)
        targets.signed.targets[name] = TargetFile.from_data(name, data)
    snapshot = Metadata(Snapshot(expires=expires))
    timestamp = Metadata(Timestamp(expires=expires, snapshot_meta=MetaFile(1)))
    for name, md in (("1.root", root), ("targets", targets), ("snapshot", snapshot),
                     ("timestamp", timestamp)):  # fmt: skip
        md.sign(signer)
        (directory / f"{name}.json").write_bytes(md.to_bytes())
    return (directory / "1.root.json").read_bytes()


def test_the_trust_root_is_refreshed_through_tuf_one_request_each(
    honest: FakeSigstore,
    signed: tuple[Key, Signature, bytes],
    tmp_path: Path,
) -> None:
    config = honest.trust_config_json()
    site = tmp_path / "site"
    site.mkdir()
    root = tuf_repository(site, {
        "trusted_root.json": json.dumps(config["trustedRoot"]).encode(),
        "signing_config.v0.2.json": json.dumps(config["signingConfig"]).encode(),
    })  # fmt: skip
    paths: list[str] = []
    handler = type("Handler", (_Logged,), {"paths": paths})
    with serve_directory(site, handler) as url:
        refreshed = sigstore_backend.refresh_trust_config(
            url, root, tmp_path / "metadata", tmp_path / "cache"
        )
    assert paths == [
        "/2.root.json",  # 404: no newer root
        "/timestamp.json",
        "/snapshot.json",
        "/targets.json",
        "/targets/trusted_root.json",
        "/targets/signing_config.v0.2.json",
    ]
    key, signature, payload = signed
    bundle = Bundle.from_json(json.dumps(signature.unrecognized_fields["bundle"]))
    policy = Identity(identity=key.keyval["identity"], issuer=key.keyval["issuer"])
    Verifier(trusted_root=refreshed.trusted_root).verify_artifact(payload, bundle, policy)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "signing_config.v0.2.json",
        "trusted_root.json",
    ]
