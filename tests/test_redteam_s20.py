"""Red-team pass s20: the lazy Sigstore registration, status' signer count.

Each test fails on the code it was written against and asserts the behaviour
the README promises.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import NOW, World
from fake_sigstore import GOOGLE_ISSUER, FakeSigstore, mint_token
from securesystemslib.signer import Signature
from test_sigstore_trust import DeadProxy, base_env, sign_with
from tuf.api.metadata import Metadata, Root, Targets

from tufrepo.core.parsing import canonical_bytes
from tufrepo.ops.status import count_signers
from tufrepo.signers import sigstore as sigstore_backend

BOB = "bob@example.com"

# Runs the CLI with sigstore-python's browser sign-in replaced by one that
# records the OpenID provider it was sent to and returns bob's token.
_BROWSER = textwrap.dedent(
    """
    import os, sys
    import sigstore.oidc

    class Browser:
        def __init__(self, url):
            with open(os.environ["S20_ISSUERS"], "a") as f:
                f.write(url + "\\n")

        def identity_token(self):
            return sigstore.oidc.IdentityToken(os.environ["S20_TOKEN"])

    sigstore.oidc.Issuer = Browser
    from tufrepo.cli import main
    sys.argv = ["tufrepo", *sys.argv[1:]]
    main()
    """
)


def test_a_browser_enrolment_signs_in_at_the_pinned_instance_before_any_sigstore_key_is_parsed(
    world: World, tmp_path: Path
) -> None:
    # bob accepts an invitation with `--key sigstore` (a browser sign-in) on a
    # repository that has no Sigstore key yet, with a pinned instance.  His
    # identity is enrolled before any Sigstore key is parsed, so the real
    # module is imported by ops.keys without sigstore.register() having run.
    # Found: the instance was then production's, and the sign-in went to its
    # OpenID provider after refreshing its trust root over the network.
    # README: "pin the trusted root with --sigstore-trust-config: that path
    # reads only the file"; the instance chosen is used "for signing and every
    # verification".
    script = tmp_path / "browser.py"
    script.write_text(_BROWSER)
    issuers = tmp_path / "issuers"
    with FakeSigstore() as fake, DeadProxy() as proxy:
        pinned = fake.write_trust_config(tmp_path / "pinned.json")
        env = {**base_env(), **proxy.env(), "NO_PROXY": "127.0.0.1",
               "S20_ISSUERS": str(issuers), "S20_TOKEN": mint_token(BOB, GOOGLE_ISSUER)}  # fmt: skip

        def tufrepo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, str(script), "--now", NOW.isoformat(), "-C", str(cwd),
                 "--sigstore-trust-config", str(pinned), *args],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip

        alice, bob = world.user("alice"), world.user("bob")
        done = tufrepo(alice.clone, "init", "sign/init", "--signer", "targets=@alice",
                       "--signer", "targets=@bob", "--threshold", "targets=2",
                       "--online-key", world.online_uri, "--key", alice.key_uri)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        done = tufrepo(bob.clone, "sign", "sign/init", "--key", "sigstore")
        assert done.returncode == 0, done.stdout + done.stderr
        sent_to = issuers.read_text().split()
        assert sent_to, "bob signed in"
        assert all(url.startswith(fake.url) for url in sent_to), sent_to
        assert "cannot refresh the Sigstore trust root" not in done.stderr, done.stderr
        assert proxy.connections == 0, "a pinned instance never touches the network"


def test_status_counts_a_valid_sigstore_signature_whose_sig_field_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Sigstore signature is its bundle: InstanceSigstoreKey (and python-tuf
    # clients' SigstoreKey) never read the "sig" field, so a signature whose
    # "sig" is "" but whose bundle is bob's over the payload is valid for
    # online-sign, verify and clients.  Found: count_signers skipped the payload
    # when no key of the role had a non-empty "sig", so status reported bob
    # missing where every other judge counts him.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeSigstore() as fake:
        pinned = fake.write_trust_config(tmp_path / "pinned.json")
        sigstore_backend._trust_config.cache_clear()
        sigstore_backend.register(pinned)
        try:
            _, key = sigstore_backend.enrol_person(mint_token(BOB, GOOGLE_ISSUER))
            root = Root()
            root.add_key(key, "targets")
            md = Metadata(Targets(version=1))
            payload = canonical_bytes(md.signed)
            bundle = sign_with(fake, BOB, payload)
            md.signatures[key.keyid] = Signature(key.keyid, "", {"bundle": bundle})
            # what online-sign / verify (checks.rules: verify_delegate) decide
            root.verify_delegate("targets", payload, md.signatures)
            signers = count_signers(root, "targets", md, lambda: payload)
            assert len(signers.signed) == 1, signers
        finally:
            sigstore_backend._trust_config.cache_clear()
            sigstore_backend.register(None)
