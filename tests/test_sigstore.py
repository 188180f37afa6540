"""Sigstore end to end, offline, through the CLI in subprocesses.

A fake Sigstore instance (tests/fake_sigstore.py) on 127.0.0.1 stands in for
production; every tufrepo process selects it with TUFREPO_SIGSTORE_TRUST_CONFIG.
Root and targets signers are people with Sigstore identities (threshold 2, one
invitation accepted with ``--key sigstore``); snapshot and timestamp are signed
by the online-sign workflow's ambient GitHub identity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, World, git
from fake_sigstore import GOOGLE_ISSUER, FakeSigstore, mint_token
from tufjs import tufjs_refresh
from webserver import serve_directory

WORKFLOW = "https://github.com/octo/tuf-repo/.github/workflows/online-sign.yml@refs/heads/main"
ALICE, BOB, MALLORY = "alice@example.com", "bob@example.com", "mallory@example.com"


@pytest.fixture
def sigstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSigstore]:
    with FakeSigstore() as fake:
        fake.gha_identity = WORKFLOW
        monkeypatch.setenv(
            "TUFREPO_SIGSTORE_TRUST_CONFIG", str(fake.write_trust_config(tmp_path / "trust.json"))
        )
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        yield fake


def tufrepo(
    cwd: Path, *args: str, token: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    if token:
        full["SIGSTORE_IDENTITY_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "tufrepo", "--now", NOW.isoformat(), "-C", str(cwd), *args],
                          capture_output=True, text=True, env=full, check=False)  # fmt: skip


def ok(done: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert done.returncode == code, done.stdout + done.stderr
    return done


def status(world: World, event: str) -> tuple[int, dict[str, Any]]:
    git(world.ci, "fetch", "-q", "--prune")
    git(world.ci, "checkout", "-q", "-B", event, f"origin/{event}")
    done = tufrepo(world.ci, "--json", "status")
    return done.returncode, json.loads(done.stdout.splitlines()[0])


def test_sigstore_signers_and_ambient_online_signing(
    world: World, sigstore: FakeSigstore, tmp_path: Path
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    ok(tufrepo(alice.clone, "init", "sign/init", "--signer", "root=@alice", "--signer", "root=@bob",
               "--threshold", "root=2", "--signer", "targets=@alice", "--signer", "targets=@bob",
               "--threshold", "targets=2", "--online-key", "sigstore", "--sigstore-identity", WORKFLOW,
               "--key", "sigstore", token=mint_token(ALICE, GOOGLE_ISSUER)))  # fmt: skip
    code, report = status(world, "sign/init")
    assert code == 3
    assert (
        any("can only be met with Sigstore signatures" in w for w in report["warnings"]) is False
    )  # invites pending

    ok(
        tufrepo(
            bob.clone,
            "sign",
            "sign/init",
            "--key",
            "sigstore",
            token=mint_token(BOB, GOOGLE_ISSUER),
        )
    )
    ok(tufrepo(alice.clone, "sign", "sign/init", token=mint_token(ALICE, GOOGLE_ISSUER)))
    code, report = status(world, "sign/init")
    assert code == 0, report
    assert [r["signers"]["signed"] for r in report["roles"]] == [
        ["@alice", "@bob"],
        ["@alice", "@bob"],
    ]
    assert "root: its threshold can only be met with Sigstore signatures" in report["warnings"][0]
    root = json.loads(git(world.ci, "show", "HEAD:metadata/root.json"))["signed"]
    identities = sorted(k["keyval"]["identity"] for k in root["keys"].values())
    assert identities == [ALICE, BOB, WORKFLOW]
    world.merge("sign/init")

    # CI signs snapshot and timestamp with its ambient GitHub Actions identity
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    ambient = {"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": f"{sigstore.url}/gha-token",
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": sigstore.gha_request_token}  # fmt: skip
    missing = tufrepo(world.ci, "online-sign")
    assert missing.returncode == 6
    assert (
        "hint: in GitHub Actions add `permissions: id-token: write` to the job" in missing.stderr
    )
    ok(tufrepo(world.ci, "online-sign", "--push", env=ambient))
    ok(tufrepo(world.ci, "verify"))
    site = tmp_path / "site"
    ok(tufrepo(world.ci, "publish", str(site)))

    with serve_directory(site) as url:
        done = ok(
            tufrepo(
                world.ci,
                "test-client",
                f"{url}/metadata",
                "--root",
                str(site / "metadata" / "1.root.json"),
            )
        )
        assert f"OK   refresh from {url}/metadata" in done.stdout
        # the warning is real: tuf-js cannot verify Sigstore signatures
        accepted, detail = tufjs_refresh(
            f"{url}/metadata", f"{url}/targets", site / "metadata" / "1.root.json", []
        )
        assert not accepted
        assert "signed by 0/2 keys" in str(detail)


def test_a_wrong_identity_or_issuer_never_counts(world: World, sigstore: FakeSigstore) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    ok(tufrepo(alice.clone, "init", "sign/init", "--signer", "targets=@alice", "--signer", "targets=@bob",
               "--threshold", "targets=2", "--online-key", "sigstore", "--sigstore-identity", WORKFLOW,
               "--key", "sigstore", token=mint_token(ALICE, GOOGLE_ISSUER)))  # fmt: skip
    ok(
        tufrepo(
            bob.clone,
            "sign",
            "sign/init",
            "--key",
            "sigstore",
            token=mint_token(BOB, GOOGLE_ISSUER),
        )
    )
    ok(tufrepo(alice.clone, "sign", "sign/init", token=mint_token(ALICE, GOOGLE_ISSUER)))
    world.merge("sign/init")

    # a new targets version that bob must sign, and alice does
    ok(
        tufrepo(
            alice.clone,
            "delegate",
            "sign/x",
            "targets",
            "--expiry",
            "200",
            token=mint_token(ALICE, GOOGLE_ISSUER),
        )
    )
    # tufrepo refuses to sign bob's key with mallory's token…
    refused = tufrepo(bob.clone, "sign", "sign/x", token=mint_token(MALLORY, GOOGLE_ISSUER))
    assert refused.returncode == 6
    assert f"the Sigstore token is for {MALLORY}, the key expects {BOB}" in refused.stderr
    # …and a signature forged in bob's slot by mallory's or another issuer's identity never counts
    for identity, issuer in ((MALLORY, GOOGLE_ISSUER), (BOB, "https://issuer.example")):
        forge = (
            "import json,sys\n"
            "from pathlib import Path\n"
            "from sigstore.oidc import IdentityToken\n"
            "from tuf.api.metadata import Metadata\n"
            "from tufrepo.signers import sigstore as sigstore_backend\n"
            "from tufrepo.core.repository import serialize\n"
            "sigstore_backend.register(Path(sys.argv[1]))\n"
            "path = Path('metadata/targets.json')\n"
            "md = Metadata.from_bytes(path.read_bytes())\n"
            "root = Metadata.from_bytes(Path('metadata/root.json').read_bytes()).signed\n"
            "key = next(k for k in root.keys.values() if k.unrecognized_fields.get('x-tuf-on-ci-keyowner') == '@bob')\n"
            "signer = sigstore_backend.InstanceSigstoreSigner(IdentityToken(sys.argv[2]), key)\n"
            "md.sign(signer, append=True)\n"
            "path.write_bytes(serialize(md))\n"
        )
        clone = world.root / f"forger-{issuer[8:14]}"
        git(world.root, "clone", "-q", str(world.origin), str(clone))
        git(clone, "checkout", "-q", "sign/x")
        subprocess.run([sys.executable, "-c", forge, os.environ["TUFREPO_SIGSTORE_TRUST_CONFIG"],
                        mint_token(identity, issuer)], cwd=clone, check=True, capture_output=True)  # fmt: skip
        git(clone, "commit", "-q", "-a", "-m", "forged signature")
        git(clone, "push", "-q", "origin", "sign/x")
        code, report = status(world, "sign/x")
        assert code == 3, "waiting, never ready"
        targets = next(r for r in report["roles"] if r["role"] == "targets")
        assert targets["signers"]["invalid"] == ["@bob"]
        assert targets["signers"]["signed"] == ["@alice"]
        git(clone, "reset", "-q", "--hard", "HEAD~1")
        git(clone, "push", "-q", "-f", "origin", "sign/x")


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/octo/tuf-repo.git",
        "git@github.com:octo/tuf-repo.git",
        "https://x:tok@github.com/octo/tuf-repo",
    ],
)
def test_online_identity_is_derived_from_the_remote(remote: str) -> None:
    from tufrepo.signers.sigstore import workflow_identity  # noqa: PLC0415

    assert workflow_identity(remote) == WORKFLOW
