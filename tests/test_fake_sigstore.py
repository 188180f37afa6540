"""The fake Sigstore instance, proven through sigstore-python's public API.

sigstore-python's real signing client, verifier and CLI, and securesystemslib's
``SigstoreSigner``/``SigstoreKey`` on TUF metadata, all run against
``fake_sigstore.FakeSigstore`` on 127.0.0.1.  Also here: the seam that points
securesystemslib at a given Sigstore instance (``sigstore_classes_for``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fake_sigstore import (
    DEFAULT_WORKFLOW_IDENTITY,
    GITHUB_ISSUER,
    GOOGLE_ISSUER,
    FakeSigstore,
    mint_token,
)
from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import (
    KEY_FOR_TYPE_AND_SCHEME,
    SIGNER_FOR_URI_SCHEME,
    Key,
    Signature,
    Signer,
    SigstoreKey,
    SigstoreSigner,
)
from sigstore.errors import Error as SigstoreError
from sigstore.errors import VerificationError as SigstoreVerificationError
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityError, IdentityToken, detect_credential
from sigstore.sign import SigningContext
from sigstore.verify import Verifier
from sigstore.verify.policy import AllOf, Identity, OIDCIssuerV2
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root

OTHER_WORKFLOW_IDENTITY = (
    "https://github.com/octo/repo/.github/workflows/other.yml@refs/heads/main"
)
# Every variable an ambient-credential detector of the `id` package reads.
AMBIENT_ENV = (
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
    "BUILDKITE",
    "GITLAB_CI",
    "SIGSTORE_ID_TOKEN",
    "CIRCLECI",
    "SIGSTORE_IDENTITY_TOKEN",
)


# -- the seam for securesystemslib -------------------------------------------


def sigstore_classes_for(
    trust_config: ClientTrustConfig,
) -> tuple[type[SigstoreSigner], type[SigstoreKey]]:
    """Return SigstoreSigner/SigstoreKey subclasses bound to ``trust_config``.

    securesystemslib 1.6 hard-codes the production instance in exactly two
    methods: ``SigstoreSigner.sign`` (``ClientTrustConfig.production()``) and
    ``SigstoreKey.verify_signature`` (``Verifier.production()``).  These
    subclasses override only those two and keep the key and signature formats
    (the bundle goes into ``Signature.unrecognized_fields["bundle"]``).
    Register them under the stock URI scheme and key type/scheme so that
    ``Signer.from_priv_key_uri`` and ``Key.from_dict`` pick them.
    """

    class InstanceSigstoreSigner(SigstoreSigner):
        def sign(self, payload: bytes) -> Signature:
            context = SigningContext.from_trust_config(trust_config)
            with context.signer(self._token) as signer:
                bundle = signer.sign_artifact(payload)
            bundle_json = json.loads(bundle.to_json())
            signature = bundle_json["messageSignature"]["signature"]
            return Signature(self.public_key.keyid, signature, {"bundle": bundle_json})

    class InstanceSigstoreKey(SigstoreKey):
        def verify_signature(self, signature: Signature, data: bytes) -> None:
            policy = Identity(identity=self.keyval["identity"], issuer=self.keyval["issuer"])
            try:
                bundle = Bundle.from_json(json.dumps(signature.unrecognized_fields["bundle"]))
            except (KeyError, ValueError, SigstoreError) as e:
                raise VerificationError(
                    f"no valid Sigstore bundle in signature by {self.keyid}"
                ) from e
            try:
                Verifier(trusted_root=trust_config.trusted_root).verify_artifact(
                    data, bundle, policy
                )
            except SigstoreVerificationError as e:
                raise UnverifiedSignatureError(
                    f"Failed to verify signature by {self.keyid}"
                ) from e

    return InstanceSigstoreSigner, InstanceSigstoreKey


# -- fixtures ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave the same inside a real CI job that has OIDC credentials."""
    for name in AMBIENT_ENV:
        monkeypatch.delenv(name, raising=False)
    # sigstore's HTTP clients (requests) honour *_PROXY; the fake is never behind one.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def fake() -> Iterator[FakeSigstore]:
    with FakeSigstore() as instance:
        yield instance


@pytest.fixture
def config(fake: FakeSigstore) -> ClientTrustConfig:
    return ClientTrustConfig.from_json(json.dumps(fake.trust_config_json()))


@pytest.fixture
def github_actions(fake: FakeSigstore, monkeypatch: pytest.MonkeyPatch) -> FakeSigstore:
    """A GitHub Actions job with ``permissions: id-token: write``, served by the fake."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{fake.url}/gha-token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", fake.gha_request_token)
    return fake


@pytest.fixture
def tuf_sigstore(
    config: ClientTrustConfig, monkeypatch: pytest.MonkeyPatch
) -> tuple[type[SigstoreSigner], type[SigstoreKey]]:
    """Opt in to sigstore signers/keys in securesystemslib, bound to the fake instance."""
    signer_class, key_class = sigstore_classes_for(config)
    monkeypatch.setitem(SIGNER_FOR_URI_SCHEME, SigstoreSigner.SCHEME, signer_class)
    key_type = (SigstoreKey.DEFAULT_KEY_TYPE, SigstoreKey.DEFAULT_SCHEME)
    monkeypatch.setitem(KEY_FOR_TYPE_AND_SCHEME, key_type, key_class)
    return signer_class, key_class


def sign(config: ClientTrustConfig, token: str, *artifacts: bytes) -> list[Bundle]:
    with SigningContext.from_trust_config(config).signer(IdentityToken(token)) as signer:
        return [signer.sign_artifact(artifact) for artifact in artifacts]


WORKFLOW = Identity(identity=DEFAULT_WORKFLOW_IDENTITY, issuer=GITHUB_ISSUER)


# -- sigstore-python against the fake ------------------------------------------


def test_signed_bundles_verify_with_growing_log(config: ClientTrustConfig) -> None:
    artifacts = [f"artifact {i}".encode() for i in range(5)]
    bundles = sign(config, mint_token(DEFAULT_WORKFLOW_IDENTITY), *artifacts)

    verifier = Verifier(trusted_root=config.trusted_root)
    for index, (artifact, bundle) in enumerate(zip(artifacts, bundles, strict=True)):
        reloaded = Bundle.from_json(bundle.to_json())
        verifier.verify_artifact(artifact, reloaded, WORKFLOW)
        entry = json.loads(bundle.to_json())["verificationMaterial"]["tlogEntries"][0]
        assert entry["logIndex"] == str(index)
        assert entry["inclusionProof"]["treeSize"] == str(index + 1)
    # The last entry of a 5-leaf tree has a non-trivial path: [leaf 4 <- subtree(0..3)].
    assert len(entry["inclusionProof"]["hashes"]) == 1


@pytest.mark.parametrize(
    ("artifact", "policy", "message"),
    [
        pytest.param(b"tampered", WORKFLOW, "Bundle message digest mismatch", id="tampered-data"),
        pytest.param(
            b"hello",
            Identity(identity=OTHER_WORKFLOW_IDENTITY, issuer=GITHUB_ISSUER),
            f"Certificate's SANs do not match {OTHER_WORKFLOW_IDENTITY}",
            id="wrong-identity",
        ),
        pytest.param(
            b"hello",
            Identity(identity=DEFAULT_WORKFLOW_IDENTITY, issuer=GOOGLE_ISSUER),
            f"Certificate's OIDCIssuer does not match (got '{GITHUB_ISSUER}', expected '{GOOGLE_ISSUER}')",
            id="wrong-issuer",
        ),
    ],
)
def test_verifier_rejects(
    config: ClientTrustConfig, artifact: bytes, policy: Identity, message: str
) -> None:
    [bundle] = sign(config, mint_token(DEFAULT_WORKFLOW_IDENTITY), b"hello")
    verifier = Verifier(trusted_root=config.trusted_root)
    with pytest.raises(SigstoreVerificationError) as caught:
        verifier.verify_artifact(artifact, bundle, policy)
    assert str(caught.value).startswith(message)


def _set_root_hash(entry: dict[str, Any]) -> None:
    entry["inclusionProof"]["rootHash"] = "AAAA" + entry["inclusionProof"]["rootHash"][4:]


def _set_integrated_time(entry: dict[str, Any]) -> None:
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_set_root_hash, "invalid log entry: inclusion proof contains invalid root hash"),
        (_set_integrated_time, "invalid log entry: SET: invalid inclusion promise"),
    ],
)
def test_verifier_checks_log_proofs(
    config: ClientTrustConfig, tamper: Callable[[dict[str, Any]], None], message: str
) -> None:
    """The fake's Merkle proof and SET are really checked, so their acceptance means something."""
    [bundle] = sign(config, mint_token(DEFAULT_WORKFLOW_IDENTITY), b"hello")
    bundle_json = json.loads(bundle.to_json())
    tamper(bundle_json["verificationMaterial"]["tlogEntries"][0])
    tampered = Bundle.from_json(json.dumps(bundle_json))
    with pytest.raises(SigstoreVerificationError, match=f"^{message}"):
        Verifier(trusted_root=config.trusted_root).verify_artifact(b"hello", tampered, WORKFLOW)


def test_other_instance_trust_root_rejects(config: ClientTrustConfig) -> None:
    [bundle] = sign(config, mint_token(DEFAULT_WORKFLOW_IDENTITY), b"hello")
    with FakeSigstore() as other:
        other_root = ClientTrustConfig.from_json(
            json.dumps(other.trust_config_json())
        ).trusted_root
    with pytest.raises(
        SigstoreVerificationError, match=r"^failed to build timestamp certificate chain"
    ):
        Verifier(trusted_root=other_root).verify_artifact(b"hello", bundle, WORKFLOW)


@pytest.mark.parametrize(
    ("issuer", "identity", "extra_claims", "cert_issuer"),
    [
        pytest.param(GOOGLE_ISSUER, "alice@example.com", None, GOOGLE_ISSUER, id="google-email"),
        pytest.param(
            "https://oauth2.sigstore.dev/auth",
            "alice@example.com",
            {"federated_claims": {"connector_id": "https://github.com/login/oauth"}},
            "https://github.com/login/oauth",
            id="dex-federated",
        ),
        pytest.param(
            "https://ci.example",
            "https://ci.example/octo/repo",
            None,
            "https://ci.example",
            id="uri-sub",
        ),
    ],
)
def test_identity_and_issuer_as_fulcio_derives_them(
    config: ClientTrustConfig,
    issuer: str,
    identity: str,
    extra_claims: dict[str, Any] | None,
    cert_issuer: str,
) -> None:
    token = mint_token(identity, issuer, extra_claims=extra_claims)
    assert IdentityToken(token).federated_issuer == cert_issuer
    [bundle] = sign(config, token, b"hello")
    # Both issuer extensions: 1.1 (raw, via Identity) and 1.8 (DER UTF8String).
    policy = AllOf([Identity(identity=identity, issuer=cert_issuer), OIDCIssuerV2(cert_issuer)])
    Verifier(trusted_root=config.trusted_root).verify_artifact(b"hello", bundle, policy)


def test_expired_token_is_refused() -> None:
    stale = mint_token(DEFAULT_WORKFLOW_IDENTITY, issued_at=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(IdentityError, match="malformed or missing claims") as caught:
        IdentityToken(stale)
    assert "expired" in str(caught.value.__cause__)


def _http(url: str, body: dict[str, Any] | None = None, auth: str = "") -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Authorization": auth})  # noqa: S310
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_services_refuse_bad_requests(fake: FakeSigstore) -> None:
    no_token = _http(f"{fake.url}/api/v2/signingCert", {"certificateSigningRequest": ""})
    assert no_token == (401, {"code": 401, "message": "missing bearer token"})

    wrong_audience = mint_token(DEFAULT_WORKFLOW_IDENTITY, audience="other")
    status, answer = _http(f"{fake.url}/api/v2/signingCert", {}, auth=f"Bearer {wrong_audience}")
    assert (status, answer["message"]) == (401, "invalid identity token: Audience doesn't match")

    dsse = _http(f"{fake.url}/api/v1/log/entries", {"kind": "dsse", "apiVersion": "0.0.1"})
    assert dsse == (400, {"code": 400, "message": "only hashedrekord 0.0.1 entries are supported"})

    assert _http(f"{fake.url}/api/v2/log/entries", {})[0] == 404
    assert _http(f"{fake.url}/gha-token?audience=sigstore", auth="bearer wrong")[0] == 401
    assert len(fake.log) == 0


def test_sigstore_cli_in_a_subprocess(
    fake: FakeSigstore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # rich would wrap the messages asserted on
    trust_config = fake.write_trust_config(tmp_path / "trust_config.json")
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(b"signed by the sigstore CLI\n")
    cli = [str(Path(sys.executable).with_name("sigstore")), "--trust-config", str(trust_config)]
    token = mint_token(DEFAULT_WORKFLOW_IDENTITY)

    signed = subprocess.run(
        [*cli, "sign", "--identity-token", token, str(artifact)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert signed.returncode == 0, signed.stderr
    assert (tmp_path / "artifact.txt.sigstore.json").is_file()

    def verify(identity: str) -> subprocess.CompletedProcess[str]:
        args = ["verify", "identity", "--cert-identity", identity]
        args += ["--cert-oidc-issuer", GITHUB_ISSUER, str(artifact)]
        return subprocess.run([*cli, *args], check=False, capture_output=True, text=True)

    accepted = verify(DEFAULT_WORKFLOW_IDENTITY)
    assert (accepted.returncode, accepted.stderr.strip()) == (0, f"OK: {artifact}")
    rejected = verify(OTHER_WORKFLOW_IDENTITY)
    assert rejected.returncode == 1
    assert f"Certificate's SANs do not match {OTHER_WORKFLOW_IDENTITY}" in rejected.stderr


# -- ambient GitHub Actions credentials -------------------------------------------


def test_ambient_github_credential(
    github_actions: FakeSigstore, config: ClientTrustConfig
) -> None:
    credential = detect_credential()
    assert credential is not None
    token = IdentityToken(credential)
    assert (token.federated_issuer, token.identity) == (
        GITHUB_ISSUER,
        "repo:octo/repo:ref:refs/heads/main",
    )
    [bundle] = sign(config, credential, b"hello")
    Verifier(trusted_root=config.trusted_root).verify_artifact(b"hello", bundle, WORKFLOW)


def test_gha_token_claims_are_configurable(github_actions: FakeSigstore) -> None:
    github_actions.gha_issuer = GOOGLE_ISSUER
    github_actions.gha_identity = "alice@example.com"
    github_actions.gha_extra_claims = {"sub": "1234", "exp": int(time.time()) + 60}
    credential = detect_credential()
    assert credential is not None
    token = IdentityToken(credential)
    assert (token.issuer, token.identity) == (GOOGLE_ISSUER, "alice@example.com")
    claims = jwt.decode(credential, options={"verify_signature": False}, audience="sigstore")
    assert (claims["sub"], claims["exp"]) == ("1234", github_actions.gha_extra_claims["exp"])


def test_ambient_github_credential_needs_the_request_token(
    github_actions: FakeSigstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-the-runner-token")
    with pytest.raises(IdentityError, match=r"OIDC token request failed \(code=401"):
        detect_credential()


def test_ambient_gitlab_style_credential_needs_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint_token("https://ci.example/octo/repo", "https://ci.example")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", token)
    assert detect_credential() == token


# -- TUF metadata signed with securesystemslib's Sigstore signer -------------------------


def _root_trusting(key: Key) -> Metadata[Root]:
    root = Metadata(Root(expires=datetime.now(UTC) + timedelta(days=365)))
    root.signed.add_key(key, Root.type)
    return root


@pytest.mark.usefixtures("github_actions", "tuf_sigstore")
def test_tuf_root_signed_and_verified() -> None:
    uri, key = SigstoreSigner.import_github_actions("octo/repo", ".github/workflows/sign.yml")
    assert (uri, key.keyval["identity"]) == ("sigstore:", DEFAULT_WORKFLOW_IDENTITY)
    root = _root_trusting(key)
    root.sign(Signer.from_priv_key_uri(uri, key))  # ambient credential from the fake

    reloaded = Metadata[Root].from_bytes(root.to_bytes())  # keys now InstanceSigstoreKey
    reloaded.verify_delegate(Root.type, reloaded)
    signature = reloaded.signatures[key.keyid]
    assert "bundle" in signature.unrecognized_fields

    reloaded_key = reloaded.signed.keys[key.keyid]
    with pytest.raises(UnverifiedSignatureError, match=r"^Failed to verify signature") as caught:
        reloaded_key.verify_signature(signature, reloaded.signed_bytes + b" ")
    assert str(caught.value.__cause__) == "Bundle message digest mismatch"

    no_bundle = Signature(key.keyid, signature.signature)
    with pytest.raises(VerificationError, match=r"^no valid Sigstore bundle in signature"):
        reloaded_key.verify_signature(no_bundle, reloaded.signed_bytes)


@pytest.mark.usefixtures("github_actions", "tuf_sigstore")
def test_tuf_signature_of_another_workflow_does_not_count() -> None:
    _, key = SigstoreSigner.import_github_actions("octo/repo", ".github/workflows/other.yml")
    root = _root_trusting(key)
    # SigstoreSigner checks only the issuer of an ambient token, so signing works ...
    root.sign(Signer.from_priv_key_uri("sigstore:", key))
    reloaded = Metadata[Root].from_bytes(root.to_bytes())
    # ... and verification refuses the signature of sign.yml for a key of other.yml.
    with pytest.raises(UnsignedMetadataError, match=r"^root was signed by 0/1 keys$"):
        reloaded.verify_delegate(Root.type, reloaded)


@pytest.mark.usefixtures("github_actions", "tuf_sigstore")
def test_tuf_signer_refuses_token_of_other_issuer() -> None:
    _, key = SigstoreSigner.import_("alice@example.com", GOOGLE_ISSUER)
    with pytest.raises(
        ValueError, match=f"issuer {GITHUB_ISSUER} did not match key: {GOOGLE_ISSUER}"
    ):
        Signer.from_priv_key_uri("sigstore:", key)


def test_tuf_seam_classes_are_what_deserialization_picks(
    tuf_sigstore: tuple[type[SigstoreSigner], type[SigstoreKey]],
) -> None:
    signer_class, key_class = tuf_sigstore
    _, key = SigstoreSigner.import_(DEFAULT_WORKFLOW_IDENTITY, GITHUB_ISSUER)
    # import_() builds a plain SigstoreKey; going through the dict form picks the registered class.
    assert type(Key.from_dict(key.keyid, key.to_dict())) is key_class
    assert SIGNER_FOR_URI_SCHEME[SigstoreSigner.SCHEME] is signer_class
