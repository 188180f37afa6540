"""Cloud KMS online keys: enrolment, error paths, and online signing through the scheme.

No local emulator signs like these services (moto ignores AWS's DIGEST
message type), so signing through ``awskms:`` is exercised with a signer
registered for the test under that same URI scheme, signing with a local key,
and the key's enrolment reads the public key from that test double instead of
the service.  Everything else (URIs, storage in root, online-sign's use of the
scheme, verification) is the real code path.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World, out, run
from securesystemslib import signer as sslib_signer
from securesystemslib.exceptions import UnsupportedLibraryError
from securesystemslib.signer import CryptoSigner, Key, SecretsHandler

ONLINE = CryptoSigner.generate_ecdsa()


class LocalAwsSigner(CryptoSigner):
    """Stands in for AWSSigner: same scheme, signs with a local key."""

    @classmethod
    def from_priv_key_uri(cls, priv_key_uri: str, public_key: Key,
                          secrets_handler: SecretsHandler | None = None) -> CryptoSigner:  # fmt: skip
        assert priv_key_uri == "awskms:alias/tuf-online"
        return CryptoSigner(ONLINE._private_key, public_key)  # type: ignore[arg-type]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    def import_(aws_key_id: str, local_scheme: str | None = None) -> tuple[str, Any]:
        return f"awskms:{aws_key_id}", ONLINE.public_key

    monkeypatch.setattr(sslib_signer.AWSSigner, "import_", staticmethod(import_))
    monkeypatch.setitem(sslib_signer.SIGNER_FOR_URI_SCHEME, "awskms", LocalAwsSigner)


def test_online_signing_through_a_kms_scheme(world: World, aws: None) -> None:
    alice = world.user("alice")
    result = alice.tufrepo(
        "init", "sign/init", "--online-key", "awskms:alias/tuf-online", "--key", alice.key_uri
    )
    assert result.exit_code == 0, out(result)
    assert "new delegation timestamp: online key (awskms) (1 required)" in result.output
    world.merge("sign/init")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert run("-C", str(world.ci), "verify", now=world.now).exit_code == 0


@pytest.mark.parametrize(
    ("uri", "form"),
    [
        ("gcpkms:projects/p/keys", "gcpkms:projects/<project>/locations/<location>"),
        ("awskms:", "awskms:<key id, key ARN or alias/name>"),
        ("azurekms://example.com/keys/k", "azurekms://<vault>.vault.azure.net/keys/<name>"),
        ("hv:", "hv:<key name>"),
    ],
)
def test_malformed_kms_uris(world: World, uri: str, form: str) -> None:
    alice = world.user("alice")
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 2
    assert f"error: '{uri}' is not a valid" in out(result)
    assert form in out(result)


def test_a_missing_extra_is_named(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(gcp_keyid: str) -> Any:
        raise UnsupportedLibraryError("Signing with GCP KMS requires google-cloud-kms")

    monkeypatch.setattr(sslib_signer.GCPSigner, "import_", staticmethod(missing))
    alice = world.user("alice")
    uri = "gcpkms:projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 6
    assert "error: gcpkms keys need the gcpkms extra" in out(result)
    assert "hint: pip install 'tufrepo[gcpkms]'" in out(result)


def test_a_service_error_is_one_line(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    class PermissionDeniedError(Exception):
        pass

    def refused(az_vault_name: str, az_key_name: str) -> Any:
        raise PermissionDeniedError(f"caller may not read {az_key_name} in {az_vault_name}")

    monkeypatch.setattr(sslib_signer.AzureSigner, "import_", staticmethod(refused))
    alice = world.user("alice")
    uri = "azurekms://tufvault.vault.azure.net/keys/online/1"
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 6
    assert (
        f"error: cannot read the public key of {uri}: PermissionDeniedError: caller may not read online in tufvault"
        in out(result)
    )
    assert "Traceback" not in out(result)
