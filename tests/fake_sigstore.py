"""A fake Sigstore instance on 127.0.0.1 whose bundles sigstore-python accepts.

Offline tests sign and verify with sigstore-python's real client, verifier and
CLI against this instance.  It serves three services from one port-0
``ThreadingHTTPServer`` in a daemon thread (``tests/webserver.py``):

* Fulcio ``POST /api/v2/signingCert``: checks the bearer token's claims and the
  CSR's proof of possession, then issues a leaf certificate under a fake root CA
  and intermediate, with the identity as SAN, the OIDC issuer extensions and
  one embedded SCT.
* Rekor v1 ``POST /api/v1/log/entries`` for ``hashedrekord`` 0.0.1: checks the
  entry's signature against its certificate, appends the canonical body to an
  RFC 6962 Merkle tree, and answers with an inclusion proof, a signed checkpoint
  and a signed entry timestamp (SET).
* A GitHub-Actions-style token endpoint ``GET /gha-token?audience=...``
  answering ``{"value": "<jwt>"}`` for ``ACTIONS_ID_TOKEN_REQUEST_URL``.

``FakeSigstore.trust_config_json()`` returns the ClientTrustConfig (trusted root
and signing config) for ``ClientTrustConfig.from_json`` or the CLI's
``--trust-config``.

Real, as sigstore-python checks it: the X.509 chain (WebPKI profile), the SCT
signature over the precertificate TBS and issuer key hash (RFC 6962), the
Merkle inclusion proof, the checkpoint's signed-note format and key hint, the
SET over the RFC 8785 entry, and the identity/issuer rules of ``IdentityToken``.

Simplified, because no client checks it: JWTs are signed with a throw-away key
that nobody can verify (sigstore-python decodes them unverified); the SCT comes
from an in-process "CT log" without a precertificate round trip; only the
identity and issuer extensions are issued (no GitHub workflow extensions); the
log keeps everything in memory and serves no reads; only Rekor v1 is
advertised, so no timestamp authority is needed.  Not for: Rekor v2, DSSE
entries, TSA timestamps, interactive OAuth (``tests/fake_oidc.py`` is the provider).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import jwt
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from webserver import Served

AUDIENCE = "sigstore"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GOOGLE_ISSUER = "https://accounts.google.com"
# Issuers whose certificate identity is the "email" claim (sigstore.oidc._KNOWN_OIDC_ISSUERS).
EMAIL_ISSUERS = frozenset(
    {GOOGLE_ISSUER, "https://oauth2.sigstore.dev/auth", "https://oauth2.sigstage.dev/auth"}
)
DEFAULT_WORKFLOW_IDENTITY = (
    "https://github.com/octo/repo/.github/workflows/sign.yml@refs/heads/main"
)
GHA_REQUEST_TOKEN = "fake-actions-id-token-request-token"

_OIDC_ISSUER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # raw bytes (legacy)
_OIDC_ISSUER_V2_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
_SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_CA_LIFETIME = timedelta(days=365)
_LEAF_LIFETIME = timedelta(minutes=10)  # as Fulcio
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_TOKEN_KEY = ec.generate_private_key(ec.SECP256R1())  # signs JWTs nobody verifies


def mint_token(
    identity: str,
    issuer: str = GITHUB_ISSUER,
    *,
    audience: str = AUDIENCE,
    issued_at: datetime | None = None,
    lifetime: timedelta = timedelta(minutes=5),
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """Mint an OIDC token for which the fake Fulcio certifies ``identity``.

    The claims are chosen as the real issuer would send them: ``email`` for
    Google and Sigstore's Dex, ``job_workflow_ref`` plus a ``repo:...`` subject
    for a GitHub workflow identity, and ``sub`` for any other issuer.
    """
    iat = int((issued_at or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "iat": iat, "nbf": iat}
    claims["exp"] = iat + int(lifetime.total_seconds())
    github_prefix = "https://github.com/"
    if issuer in EMAIL_ISSUERS:
        claims |= {"email": identity, "email_verified": True, "sub": secrets.token_hex(8)}
    elif issuer == GITHUB_ISSUER and identity.startswith(github_prefix):
        workflow_ref = identity.removeprefix(github_prefix)
        repository = workflow_ref.split("/.github/", 1)[0]
        ref = workflow_ref.rpartition("@")[2]
        claims |= {
            "sub": f"repo:{repository}:ref:{ref}",
            "repository": repository,
            "ref": ref,
            "job_workflow_ref": workflow_ref,
        }
    elif (gitlab := _gitlab_pipeline(identity, issuer)) is not None:
        claims |= gitlab
    else:
        claims["sub"] = identity
    claims |= extra_claims or {}
    return jwt.encode(claims, _TOKEN_KEY, algorithm="ES256")


def _gitlab_pipeline(identity: str, issuer: str) -> dict[str, Any] | None:
    """GitLab CI ID token claims for a pipeline identity of the instance ``issuer``, or None.

    The identity is what Fulcio certifies for GitLab pipelines,
    ``https://<host>/<project path>//<CI config path>@<ref>``, from the
    ``ci_config_ref_uri`` claim (without the scheme); ``sub`` names project and ref.
    """
    if not identity.startswith(f"{issuer}/") or "//" not in identity.removeprefix(f"{issuer}/"):
        return None
    config_ref = identity.removeprefix("https://")
    project = identity.removeprefix(f"{issuer}/").split("//", 1)[0]
    ref = identity.rpartition("@")[2]
    kind, _, name = ref.removeprefix("refs/").partition("/")
    ref_type = {"heads": "branch", "tags": "tag"}.get(kind, kind)
    return {
        "sub": f"project_path:{project}:ref_type:{ref_type}:ref:{name}",
        "project_path": project,
        "ref": name,
        "ref_type": ref_type,
        "ci_config_ref_uri": config_ref,
    }


class ServiceError(Exception):
    """An HTTP error answer from one of the fake services."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MerkleLog:
    """An append-only RFC 6962 Merkle tree of log entry bodies."""

    def __init__(self) -> None:
        self._leaves: list[bytes] = []

    def __len__(self) -> int:
        return len(self._leaves)

    def append(self, body: bytes) -> int:
        """Add a leaf and return its index."""
        self._leaves.append(hashlib.sha256(b"\x00" + body).digest())
        return len(self._leaves) - 1

    def root(self, size: int) -> bytes:
        """Return the tree head of the first ``size`` leaves."""
        return _subtree_hash(self._leaves[:size])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return the audit path of leaf ``index`` in the tree of ``size`` leaves."""
        return _audit_path(index, self._leaves[:size])


def _subtree_hash(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = _largest_power_of_two_below(len(leaves))
    return _node_hash(_subtree_hash(leaves[:split]), _subtree_hash(leaves[split:]))


def _audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    # RFC 6962 section 2.1.1: PATH(m, D[n]), ordered from the leaf up.
    if len(leaves) <= 1:
        return []
    split = _largest_power_of_two_below(len(leaves))
    if index < split:
        return [*_audit_path(index, leaves[:split]), _subtree_hash(leaves[split:])]
    return [*_audit_path(index - split, leaves[split:]), _subtree_hash(leaves[:split])]


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _der(tag: int, content: bytes) -> bytes:
    """Encode one DER TLV (enough for OCTET STRING and UTF8String)."""
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    length = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _spki_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """Sigstore's and RFC 6962's key/log id: SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(_spki_der(key)).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ca_certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    not_before: datetime,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fake-sigstore"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    issuer_cert, signing_key = issuer or (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + _CA_LIFETIME)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=0 if issuer else 1), critical=True
        )
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert:
        builder = builder.add_extension(_authority_key_id(issuer_cert), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _key_usage(*, key_cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not key_cert_sign,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _identity_san(claims: dict[str, Any]) -> x509.GeneralName:
    """Derive the certificate identity from token claims, as Fulcio does."""
    if claims["iss"] in EMAIL_ISSUERS:
        return x509.RFC822Name(str(claims["email"]))
    if claims["iss"] == GITHUB_ISSUER and "job_workflow_ref" in claims:
        return x509.UniformResourceIdentifier(f"https://github.com/{claims['job_workflow_ref']}")
    if "ci_config_ref_uri" in claims:  # a GitLab pipeline (Fulcio's "gitlab-pipeline" type)
        return x509.UniformResourceIdentifier(f"https://{claims['ci_config_ref_uri']}")
    subject = str(claims["sub"])
    if "://" in subject:
        return x509.UniformResourceIdentifier(subject)
    if "@" in subject:
        return x509.RFC822Name(subject)
    raise ServiceError(400, f"subject {subject!r} is neither a URI nor an email")


class FakeSigstore:
    """Fulcio, Rekor v1 and a GitHub OIDC token endpoint served on 127.0.0.1.

    Usage::

        with FakeSigstore() as fake:
            config = ClientTrustConfig.from_json(json.dumps(fake.trust_config_json()))
            token = IdentityToken(mint_token(DEFAULT_WORKFLOW_IDENTITY))

    ``gha_identity`` and ``gha_issuer`` choose what ``/gha-token`` certifies,
    ``gha_extra_claims`` adds or overrides claims (``sub``, ``iat``, ``exp``, ...),
    and ``gha_request_token`` is the bearer token it requires
    (``ACTIONS_ID_TOKEN_REQUEST_TOKEN``).
    """

    def __init__(self) -> None:
        self.gha_identity = DEFAULT_WORKFLOW_IDENTITY
        self.gha_issuer = GITHUB_ISSUER
        self.gha_request_token = GHA_REQUEST_TOKEN
        self.gha_extra_claims: dict[str, Any] = {}
        # The OpenID provider people sign in with (signing config ``oidcUrls``), e.g. a
        # tests/fake_oidc.py FakeOIDC's URL; None: <url>/oidc, where nothing answers.
        self.oidc_url: str | None = None
        # Back-dated so that keys and CAs are valid for any test run today.
        self.not_before = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        self._intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self._ct_key = ec.generate_private_key(ec.SECP256R1())
        self._rekor_key = ec.generate_private_key(ec.SECP256R1())
        self.root_cert = _ca_certificate("fake-root", self._root_key, None, self.not_before)
        self.intermediate_cert = _ca_certificate(
            "fake-intermediate",
            self._intermediate_key,
            (self.root_cert, self._root_key),
            self.not_before,
        )
        self.log = MerkleLog()
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._served: Served | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of all three services; only while started."""
        if self._server is None:
            raise RuntimeError("FakeSigstore is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve on a free port of 127.0.0.1 from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeSigstore is already started")
        server = _Server(self)
        self._server = server
        self._served = Served(server=server).start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; a no-op when not started."""
        if self._served is None:
            return
        self._served.stop()
        self._server = self._served = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- trust configuration ----------------------------------------------

    def trust_config_json(self) -> dict[str, Any]:
        """Return a ClientTrustConfig (trusted root + signing config v0.2) for this instance."""
        valid_for = {"start": _rfc3339(self.not_before)}

        def tlog(base_url: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
            public_key = key.public_key()
            return {
                "baseUrl": base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki_der(public_key)),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": valid_for,
                },
                "logId": {"keyId": _b64(_key_id(public_key))},
            }

        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": valid_for,
                "operator": "fake-sigstore",
            }

        chain = [self.intermediate_cert, self.root_cert]
        trusted_root = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [tlog(self.url, self._rekor_key)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "fake-sigstore", "commonName": "fake-root"},
                    "uri": self.url,
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                            for c in chain
                        ]
                    },
                    "validFor": valid_for,
                }
            ],
            "ctlogs": [tlog(f"{self.url}/ct", self._ct_key)],
            "timestampAuthorities": [],
        }
        signing_config = {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(self.url)],
            "oidcUrls": [service(self.oidc_url or f"{self.url}/oidc")],
            "rekorTlogUrls": [service(self.url)],  # v1 only: its SET gives the signed time
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }
        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": trusted_root,
            "signingConfig": signing_config,
        }

    def write_trust_config(self, path: Path) -> Path:
        """Write ``trust_config_json()`` to ``path`` (for ``sigstore --trust-config``)."""
        path.write_text(json.dumps(self.trust_config_json(), indent=2), encoding="utf-8")
        return path

    # -- Fulcio --------------------------------------------------------------

    def issue_certificate(self, authorization: str, request: dict[str, Any]) -> dict[str, Any]:
        """Fulcio ``signingCert``: certify the CSR's key for the token's identity."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ServiceError(401, "missing bearer token")
        try:
            claims = jwt.decode(
                token,
                options={
                    "verify_signature": False,  # nobody can verify the fake's tokens
                    "verify_aud": True,
                    "verify_exp": True,
                    "require": ["iss", "sub", "aud", "iat", "exp"],
                },
                audience=AUDIENCE,
            )
        except jwt.InvalidTokenError as e:
            raise ServiceError(401, f"invalid identity token: {e}") from e
        csr = x509.load_pem_x509_csr(base64.b64decode(request["certificateSigningRequest"]))
        if not csr.is_signature_valid:
            raise ServiceError(400, "CSR signature does not match its public key")
        issuer = str(claims.get("federated_claims", {}).get("connector_id", claims["iss"]))
        now = datetime.now(UTC).replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate_cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _LEAF_LIFETIME)
            .add_extension(_key_usage(key_cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False
            )
            .add_extension(_authority_key_id(self.intermediate_cert), critical=False)
            # An empty subject makes the SAN critical (RFC 5280 4.2.1.6).
            .add_extension(x509.SubjectAlternativeName([_identity_san(claims)]), critical=True)
            .add_extension(
                x509.UnrecognizedExtension(_OIDC_ISSUER_OID, issuer.encode()), critical=False
            )
            .add_extension(
                x509.UnrecognizedExtension(_OIDC_ISSUER_V2_OID, _der(0x0C, issuer.encode())),
                critical=False,
            )
        )
        sct_list = self._signed_certificate_timestamp(builder)
        leaf = builder.add_extension(
            x509.UnrecognizedExtension(_SCT_LIST_OID, _der(0x04, sct_list)), critical=False
        ).sign(self._intermediate_key, hashes.SHA256())
        chain = (leaf, self.intermediate_cert, self.root_cert)
        pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}

    def _signed_certificate_timestamp(self, builder: x509.CertificateBuilder) -> bytes:
        """Act as the CT log: return a TLS-encoded SCT list for the precertificate.

        The SCT signs (RFC 6962 3.2) the TBSCertificate without the SCT list
        extension, bound to the issuer by the hash of its public key: exactly
        what ``tbs_precertificate_bytes`` gives back from the final leaf.
        """
        tbs = builder.sign(self._intermediate_key, hashes.SHA256()).tbs_certificate_bytes
        timestamp_ms = int(time.time() * 1000)
        issuer_key_hash = _key_id(self._intermediate_key.public_key())
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp_ms, 1)  # v1, certificate_timestamp, precert_entry
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack("!H", 0)  # no CT extensions
        )
        signature = self._ct_key.sign(signed, _ECDSA_SHA256)
        log_id = _key_id(self._ct_key.public_key())
        sct = struct.pack("!B32sQH", 0, log_id, timestamp_ms, 0)
        sct += struct.pack("!BBH", 4, 3, len(signature)) + signature  # sha256, ecdsa
        return struct.pack("!HH", len(sct) + 2, len(sct)) + sct

    # -- Rekor v1 ------------------------------------------------------------

    def create_log_entry(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """Rekor ``POST /api/v1/log/entries`` for a hashedrekord 0.0.1 entry."""
        if (proposed.get("kind"), proposed.get("apiVersion")) != ("hashedrekord", "0.0.1"):
            raise ServiceError(400, "only hashedrekord 0.0.1 entries are supported")
        spec = proposed["spec"]
        cert = x509.load_pem_x509_certificate(
            base64.b64decode(spec["signature"]["publicKey"]["content"])
        )
        public_key = cert.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ServiceError(400, "only ECDSA signing keys are supported")
        if spec["data"]["hash"]["algorithm"] != "sha256":
            raise ServiceError(400, "only sha256 digests are supported")
        digest = bytes.fromhex(spec["data"]["hash"]["value"])
        try:
            public_key.verify(
                base64.b64decode(spec["signature"]["content"]),
                digest,
                ec.ECDSA(Prehashed(hashes.SHA256())),
            )
        except InvalidSignature as e:
            raise ServiceError(400, "signature does not verify with the certificate's key") from e

        body = rfc8785.dumps(proposed)
        log_id = _key_id(self._rekor_key.public_key()).hex()
        with self._log_lock:
            index = self.log.append(body)
            size = len(self.log)
            root = self.log.root(size)
            proof = self.log.inclusion_proof(index, size)
            integrated_time = int(time.time())
        entry: dict[str, Any] = {
            "body": _b64(body),
            "integratedTime": integrated_time,
            "logID": log_id,
            "logIndex": index,
        }
        signed_entry_timestamp = self._rekor_key.sign(rfc8785.dumps(entry), _ECDSA_SHA256)
        entry["verification"] = {
            "inclusionProof": {
                "logIndex": index,
                "rootHash": root.hex(),
                "treeSize": size,
                "hashes": [h.hex() for h in proof],
                "checkpoint": self._checkpoint(size, root),
            },
            "signedEntryTimestamp": _b64(signed_entry_timestamp),
        }
        uuid = hashlib.sha256(b"\x00" + body).hexdigest()
        return {uuid: entry}

    def _checkpoint(self, size: int, root: bytes) -> str:
        """A signed note: origin, size, root hash; then '— name base64(key hint + signature)'."""
        origin = "fake-rekor"
        note = f"{origin} - 0\n{size}\n{_b64(root)}\n"
        signature = self._rekor_key.sign(note.encode(), _ECDSA_SHA256)
        key_hint = _key_id(self._rekor_key.public_key())[:4]
        return f"{note}\n\u2014 {origin} {_b64(key_hint + signature)}\n"

    # -- GitHub Actions OIDC -----------------------------------------------------

    def github_actions_token(self, authorization: str, audience: str | None) -> dict[str, Any]:
        """The ``ACTIONS_ID_TOKEN_REQUEST_URL`` endpoint of a GitHub runner."""
        if authorization.lower() != f"bearer {self.gha_request_token}".lower():
            raise ServiceError(401, "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not audience:
            raise ServiceError(400, "audience query parameter missing")
        token = mint_token(
            self.gha_identity,
            self.gha_issuer,
            audience=audience,
            extra_claims=self.gha_extra_claims,
        )
        return {"value": token}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSigstore) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/gha-token":
            audience = parse_qs(url.query).get("audience", [None])[0]
            self._answer(lambda fake: fake.github_actions_token(self._authorization(), audience))
        else:
            self._send(404, {"message": f"no such endpoint: GET {url.path}"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length", "0"))
        try:
            request = json.loads(self.rfile.read(length))
        except ValueError:
            self._send(400, {"message": "request body is not JSON"})
            return
        if path == "/api/v2/signingCert":
            self._answer(lambda fake: fake.issue_certificate(self._authorization(), request))
        elif path == "/api/v1/log/entries":
            self._answer(lambda fake: fake.create_log_entry(request), status=201)
        else:
            self._send(404, {"message": f"no such endpoint: POST {path}"})

    def _authorization(self) -> str:
        return self.headers.get("Authorization", "")

    def _answer(self, call: Callable[[FakeSigstore], dict[str, Any]], status: int = 200) -> None:
        try:
            self._send(status, call(self.server.fake))
        except ServiceError as e:
            self._send(e.status, {"code": e.status, "message": str(e)})
        except (KeyError, TypeError, ValueError) as e:
            self._send(400, {"code": 400, "message": f"malformed request: {e!r}"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""
