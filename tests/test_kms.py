"""Cloud KMS online keys: enrolment, error paths, and online signing through a KMS scheme.

No network: two stand-ins replace the services.

* A small AWS KMS on 127.0.0.1 (:class:`FakeAwsKms`: GetPublicKey and Sign
  of a digest, AWS's JSON protocol) lets the real boto3 and securesystemslib's
  real AWSSigner enrol a key and sign with it. moto cannot do this: it ignores
  ``MessageType="DIGEST"``.
* For ``gcpkms:`` a test signer class is registered under that URI scheme in
  securesystemslib's ``SIGNER_FOR_URI_SCHEME`` (restored after the test) and
  signs with a local key; since no Google service is reachable, the key's
  enrolment reads the public key from the same test double
  (``GCPSigner.import_`` is monkeypatched). Everything else, from the URI stored
  in root to ``online-sign``'s use of the scheme, is the real code path.

A missing extra is simulated by setting the flag that securesystemslib sets
when an SDK import fails (e.g. ``_gcp_signer.GCP_IMPORT_ERROR``):
securesystemslib imports the SDKs once, when ``securesystemslib.signer`` is
first imported, so hiding the SDK from ``sys.modules`` afterwards would change
nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from conftest import World, git, out, run
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from securesystemslib import signer as sslib_signer
from securesystemslib.signer import CryptoSigner, Key, SecretsHandler, Signature, Signer
from webserver import Served

from tufrepo.errors import SignerUnavailableError, UsageError
from tufrepo.signers import kms

GCP_URI = "gcpkms:projects/tuf/locations/global/keyRings/ci/cryptoKeys/online/cryptoKeyVersions/1"
AWS_ACCOUNT = "111122223333"
AWS_DENIED = f"User: arn:aws:iam::{AWS_ACCOUNT}:user/ci is not authorized to perform"


def online_keyid(world: World) -> tuple[str, dict[str, Any]]:
    """The timestamp role's keyid and key as root on main lists them."""
    root = json.loads(git(world.ci, "show", "main:metadata/root.json"))["signed"]
    (keyid,) = root["roles"]["timestamp"]["keyids"]
    return keyid, root["keys"][keyid]


def signature_keyids(world: World, role: str) -> list[str]:
    md = json.loads(git(world.ci, "show", f"main:metadata/{role}.json"))
    return [s["keyid"] for s in md["signatures"]]


# --- a test signer registered for the gcpkms: scheme -------------------------------------


class LocalGcpSigner(Signer):
    """Stands in for GCPSigner under the gcpkms: scheme; signs with a local key."""

    private = CryptoSigner.generate_ecdsa()
    signed: list[str] = []  # noqa: RUF012 - the record of one test, reset by its fixture

    def __init__(self, public_key: Key) -> None:
        self._public_key = public_key

    @property
    def public_key(self) -> Key:
        return self._public_key

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Signer:
        if priv_key_uri != GCP_URI:
            raise ValueError(f"unexpected URI {priv_key_uri}")
        return cls(public_key)

    def sign(self, payload: bytes) -> Signature:
        self.signed.append(json.loads(payload)["_type"])
        signature = self.private.sign(payload)
        return Signature(self._public_key.keyid, signature.signature)


@pytest.fixture
def gcp_double(monkeypatch: pytest.MonkeyPatch) -> type[LocalGcpSigner]:
    def import_(gcp_keyid: str) -> tuple[str, Key]:
        return f"gcpkms:{gcp_keyid}", LocalGcpSigner.private.public_key

    monkeypatch.setattr(sslib_signer.GCPSigner, "import_", staticmethod(import_))
    monkeypatch.setitem(sslib_signer.SIGNER_FOR_URI_SCHEME, "gcpkms", LocalGcpSigner)
    monkeypatch.setattr(LocalGcpSigner, "signed", [])
    return LocalGcpSigner


def test_online_signing_through_a_registered_kms_scheme(
    world: World, gcp_double: type[LocalGcpSigner]
) -> None:
    alice = world.user("alice")
    result = alice.tufrepo("init", "sign/init", "--online-key", GCP_URI, "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    assert f" * timestamp: key added: online key {GCP_URI} (key " in result.output
    world.merge("sign/init")
    keyid, key = online_keyid(world)
    assert key["x-tuf-on-ci-online-uri"] == GCP_URI
    assert key["keyval"] == gcp_double.private.public_key.keyval

    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert sorted(gcp_double.signed) == ["snapshot", "timestamp"]
    git(world.ci, "pull", "-q", "--ff-only", "origin", "main")
    assert signature_keyids(world, "snapshot") == [keyid]
    assert signature_keyids(world, "timestamp") == [keyid]
    assert run("-C", str(world.ci), "verify", now=world.now).exit_code == 0


# --- a local AWS KMS for the real boto3 and AWSSigner ------------------------------------


@dataclass
class FakeAwsKms:
    """GetPublicKey and Sign (of a digest) for ECDSA P-256 keys, by alias."""

    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    algorithms: dict[str, list[str]] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)  # "<operation> <alias>"
    calls: list[tuple[str, str]] = field(default_factory=list)

    def handle(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        alias = str(body.get("KeyId", ""))
        self.calls.append((operation, alias))
        if f"{operation} {alias}" in self.denied:
            return 400, {
                "__type": "AccessDeniedException",
                "message": f"{AWS_DENIED}: kms:{operation} on this resource",
            }
        if alias not in self.keys:
            return 400, {"__type": "NotFoundException", "message": f"Alias {alias} is not found."}
        private = self.keys[alias]
        arn = f"arn:aws:kms:us-east-1:{AWS_ACCOUNT}:key/0f2b6e1c-0000-4000-8000-{len(alias):012d}"
        if operation == "GetPublicKey":
            der = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return 200, {
                "KeyId": arn,
                "PublicKey": base64.b64encode(der).decode(),
                "KeySpec": "ECC_NIST_P256",
                "KeyUsage": "SIGN_VERIFY",
                "SigningAlgorithms": self.algorithms.get(alias, ["ECDSA_SHA_256"]),
            }
        if operation == "Sign" and body.get("MessageType") == "DIGEST":
            digest = base64.b64decode(body["Message"])
            signature = private.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            return 200, {
                "KeyId": arn,
                "Signature": base64.b64encode(signature).decode(),
                "SigningAlgorithm": body["SigningAlgorithm"],
            }
        return 400, {"__type": "UnsupportedOperationException", "message": operation}


def _handler(kms_state: FakeAwsKms) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            operation = self.headers["X-Amz-Target"].rsplit(".", 1)[-1]
            status, response = kms_state.handle(operation, body)
            data = json.dumps(response).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAwsKms]:
    """A fake AWS KMS on 127.0.0.1 holding alias/tuf-online, with boto3 pointed at it."""
    state = FakeAwsKms(keys={"alias/tuf-online": ec.generate_private_key(ec.SECP256R1())})
    served = Served(_handler(state)).start()
    settings = {
        "AWS_ENDPOINT_URL": served.url,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    yield state
    served.stop()


def test_aws_kms_enrolment_and_online_signing(world: World, aws: FakeAwsKms) -> None:
    alice = world.user("alice")
    uri = "awskms:alias/tuf-online"
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    world.merge("sign/init")
    keyid, key = online_keyid(world)
    assert (key["keytype"], key["scheme"], key["x-tuf-on-ci-online-uri"]) == (
        "ecdsa",
        "ecdsa-sha2-nistp256",
        uri,
    )

    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert aws.calls.count(("Sign", "alias/tuf-online")) == 2  # snapshot and timestamp
    git(world.ci, "pull", "-q", "--ff-only", "origin", "main")
    assert signature_keyids(world, "timestamp") == [keyid]
    assert run("-C", str(world.ci), "verify", now=world.now).exit_code == 0


def test_online_signing_refused_by_the_service(world: World, aws: FakeAwsKms) -> None:
    alice = world.user("alice")
    uri = "awskms:alias/tuf-online"
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 0, out(result)
    world.merge("sign/init")
    aws.denied.add("Sign alias/tuf-online")  # the CI job lacks kms:Sign
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 6, out(result)
    assert (
        "error: awskms:alias/tuf-online failed to sign: ClientError: An error occurred "
        f"(AccessDeniedException) when calling the Sign operation: {AWS_DENIED}: kms:Sign on "
        "this resource"
    ) in out(result).splitlines()
    assert out(result).splitlines()[-1].endswith("in this job, and that it has kms:Sign")
    assert "internal error" not in out(result)


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        (
            "alias/denied",
            (
                "error: cannot read the public key of awskms:alias/denied: ClientError: An "
                "error occurred (AccessDeniedException) when calling the GetPublicKey "
                f"operation: {AWS_DENIED}: kms:GetPublicKey on this resource"
            ),
        ),
        (
            "alias/missing",
            (
                "error: cannot read the public key of awskms:alias/missing: NotFoundException: "
                "An error occurred (NotFoundException) when calling the GetPublicKey "
                "operation: Alias alias/missing is not found."
            ),
        ),
        (
            "alias/sm2",
            (
                "error: the key at awskms:alias/sm2 cannot sign TUF metadata "
                "(UnsupportedAlgorithmError: Unsupported AWS key algorithms: ['SM2DSA'])"
            ),
        ),
    ],
    ids=["denied", "not-found", "unsupported-algorithm"],
)
def test_aws_kms_service_errors(world: World, aws: FakeAwsKms, alias: str, message: str) -> None:
    aws.keys["alias/denied"] = aws.keys["alias/sm2"] = ec.generate_private_key(ec.SECP256R1())
    aws.denied.add("GetPublicKey alias/denied")
    aws.algorithms["alias/sm2"] = ["SM2DSA"]
    alice = world.user("alice")
    result = alice.tufrepo(
        "init", "sign/init", "--online-key", f"awskms:{alias}", "--key", alice.key_uri
    )
    assert result.exit_code == 6, out(result)
    assert message in out(result)
    assert "internal error" not in out(result)
    if alias != "alias/sm2":
        assert "and that you have kms:GetPublicKey" in out(result)


def test_kms_signer_failures_name_the_permission(aws: FakeAwsKms) -> None:
    uri = "awskms:alias/tuf-online"
    key = kms.import_key(uri)
    signer = kms.load_signer(uri, key)
    key.verify_signature(signer.sign(b"payload"), b"payload")

    aws.denied.add("Sign alias/tuf-online")
    with pytest.raises(SignerUnavailableError) as e:
        signer.sign(b"payload")
    assert str(e.value) == (
        "awskms:alias/tuf-online failed to sign: ClientError: An error occurred "
        f"(AccessDeniedException) when calling the Sign operation: {AWS_DENIED}: kms:Sign on "
        "this resource"
    )
    assert e.value.hint is not None
    assert e.value.hint.endswith("and that it has kms:Sign")


# --- errors without any service ----------------------------------------------------------

_MISSING_EXTRA = [
    ("_gcp_signer", "GCP_IMPORT_ERROR", GCP_URI, "gcpkms"),
    ("_aws_signer", "AWS_IMPORT_ERROR", "awskms:alias/tuf-online", "awskms"),
    ("_azure_signer", "AZURE_IMPORT_ERROR", "azurekms://tuf.vault.azure.net/keys/k/1", "azurekms"),
    ("_vault_signer", "VAULT_IMPORT_ERROR", "hv:tuf-online/1", "vault"),
]


@pytest.mark.parametrize(("module", "flag", "uri", "extra"), _MISSING_EXTRA)
def test_a_missing_extra_is_named(
    world: World, monkeypatch: pytest.MonkeyPatch, module: str, flag: str, uri: str, extra: str
) -> None:
    monkeypatch.setattr(f"securesystemslib.signer.{module}.{flag}", "the SDK is not installed")
    alice = world.user("alice")
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 6, out(result)
    scheme = uri.split(":", 1)[0]
    assert (
        f"error: {scheme} keys need the {extra} extra "
        "(UnsupportedLibraryError: the SDK is not installed)"
    ) in out(result)
    assert f"hint: pip install 'tufrepo[{extra}]'" in out(result)

    with pytest.raises(SignerUnavailableError, match=f"need the {extra} extra"):
        kms.load_signer(uri, CryptoSigner.generate_ecdsa().public_key)


@pytest.mark.parametrize(
    ("uri", "form"),
    [
        (
            "gcpkms:projects/p/locations/global/keyRings/r/cryptoKeys/k",
            "gcpkms:projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>/cryptoKeyVersions/<version>",
        ),
        ("awskms:", "awskms:<key id | key ARN | alias/<name> | alias ARN>"),
        (
            "awskms:alias/x?region=eu-west-1",
            "awskms:<key id | key ARN | alias/<name> | alias ARN>",
        ),
        ("awskms:arn:aws:kms:us-east-1:123:key/k", "awskms:<key id | key ARN"),
        (
            "azurekms://example.com/keys/k/1",
            "azurekms://<vault>.vault.azure.net/keys/<name>/<version>",
        ),
        ("azurekms://tuf.vault.azure.net/secrets/k/1", "azurekms://<vault>.vault.azure.net/keys/"),
        ("hv:", "hv:<transit key name>/<version>"),
        ("hv:a/b/c", "hv:<transit key name>/<version>"),
    ],
)
def test_malformed_kms_uris(world: World, uri: str, form: str) -> None:
    alice = world.user("alice")
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 2, out(result)
    assert f"error: '{uri}' is not a valid {uri.split(':', 1)[0]} key URI" in out(result)
    assert f"hint: expected {form}" in out(result)


def test_not_a_kms_uri() -> None:
    with pytest.raises(UsageError, match=r"'file2:k\.pem' is not a KMS key URI") as e:
        kms.import_key("file2:k.pem")
    assert e.value.hint is not None
    assert "hv:<transit key name>/<version>" in e.value.hint


@pytest.mark.parametrize(
    ("backend", "given", "current"),
    [
        (
            "AzureSigner",
            "azurekms://tufvault.vault.azure.net/keys/online",
            "azurekms://tufvault.vault.azure.net/keys/online/8c1d2e",
        ),
        ("VaultSigner", "hv:tuf-online", "hv:tuf-online/3"),
    ],
)
def test_azure_and_vault_uris_pin_the_current_version(
    world: World, monkeypatch: pytest.MonkeyPatch, backend: str, given: str, current: str
) -> None:
    """The stored URI must sign with the enrolled key: a version is required and must be current."""
    public_key = CryptoSigner.generate_ecdsa().public_key

    def import_(*args: str) -> tuple[str, Key]:
        return current, public_key

    monkeypatch.setattr(getattr(sslib_signer, backend), "import_", staticmethod(import_))
    alice = world.user("alice")
    result = alice.tufrepo("init", "sign/init", "--online-key", given, "--key", alice.key_uri)
    assert result.exit_code == 2, out(result)
    assert f"error: '{given}' names no key version" in out(result)
    assert f"hint: use {current} (the key's current version)" in out(result)

    old = current.rsplit("/", 1)[0] + "/1"
    with pytest.raises(UsageError, match="is not the current version of the key") as e:
        kms.import_key(old)
    assert e.value.hint == f"use {current}; only the current version can be enrolled"
    assert kms.import_key(current) == public_key


def test_gcp_credentials_error_from_the_real_sdk(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-credentials.json"))
    alice = world.user("alice")
    result = alice.tufrepo("init", "sign/init", "--online-key", GCP_URI, "--key", alice.key_uri)
    assert result.exit_code == 6, out(result)
    assert (
        f"error: cannot read the public key of {GCP_URI}: DefaultCredentialsError: "
        f"File {tmp_path / 'no-credentials.json'} was not found."
    ) in out(result)
    assert (
        "hint: check gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS"
        in (out(result))
    )
    assert "roles/cloudkms.publicKeyViewer" in out(result)


def test_a_multi_line_service_error_is_one_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ClientAuthenticationError(Exception):
        pass

    def refused(az_vault_name: str, az_key_name: str) -> Any:
        raise ClientAuthenticationError(
            "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
            "Attempted credentials:\n\tEnvironmentCredential: not configured"
        )

    monkeypatch.setattr(sslib_signer.AzureSigner, "import_", staticmethod(refused))
    alice = world.user("alice")
    uri = "azurekms://tufvault.vault.azure.net/keys/online/8c1d2e"
    result = alice.tufrepo("init", "sign/init", "--online-key", uri, "--key", alice.key_uri)
    assert result.exit_code == 6, out(result)
    lines = out(result).splitlines()
    assert (
        f"error: cannot read the public key of {uri}: ClientAuthenticationError: "
        "DefaultAzureCredential failed to retrieve a token from the included credentials."
    ) in lines
    assert "Attempted credentials" not in out(result)
    assert "internal error" not in out(result)
