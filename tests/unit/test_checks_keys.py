"""``check_key_set`` and ``public_identity``: keys that can verify, each counted once."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from securesystemslib.signer import Key, SSlibKey
from simulator import new_signer
from tuf.api.metadata import DelegatedRole, Delegations, Root, Snapshot, Targets

from tufrepo.checks import Severity
from tufrepo.checks.keys import check_key_set, key_set_of, public_identity
from tufrepo.core.constants import KEYOWNER
from tufrepo.core.fields import spec_keyid

ERROR, WARNING = Severity.ERROR, Severity.WARNING
ALICE = new_signer("keys alice", **{KEYOWNER: "@alice"}).public_key


def pem(public: Any) -> str:
    data: bytes = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


@functools.cache
def rsa_pem(bits: int) -> str:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key())


@functools.cache
def ec_pem(curve: type[ec.EllipticCurve]) -> str:
    return pem(ec.generate_private_key(curve()).public_key())


def key(keytype: str, scheme: str, keyval: dict[str, Any], **custom: Any) -> Key:
    """A key with any ``keyval`` (even one securesystemslib refuses) and a spec keyid."""
    draft = SSlibKey("x", keytype, scheme, {"public": "placeholder"}, dict(custom))
    draft.keyval = dict(keyval)
    made = SSlibKey(spec_keyid(draft), keytype, scheme, {"public": "placeholder"}, dict(custom))
    made.keyval = dict(keyval)
    return made


def findings(keys: list[Key], known_good: list[Key] | None = None) -> list[tuple[str, Severity]]:
    found = check_key_set(
        "root", {k.keyid: k for k in keys}, {k.keyid: k for k in known_good or []}
    )
    assert {f.role for f in found} == ({"root"} if found else set())
    return [(f.code, f.severity) for f in found]


# --- public_identity ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("keytype", "scheme", "public"),
    [
        ("ecdsa", "ecdsa-sha2-nistp256", lambda: ec_pem(ec.SECP256R1)),
        ("ecdsa", "ecdsa-sha2-nistp384", lambda: ec_pem(ec.SECP384R1)),
        ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", lambda: ec_pem(ec.SECP256R1)),
        ("rsa", "rsassa-pss-sha256", lambda: rsa_pem(2048)),
    ],
    ids=["p256", "p384", "legacy-keytype", "rsa-2048"],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_supported_pem_keys_are_usable(keytype: str, scheme: str, public: Any) -> None:
    identity = public_identity(key(keytype, scheme, {"public": public()}))
    assert isinstance(identity, tuple)
    assert identity[0] == "pem"


def test_an_ed25519_key_is_its_raw_public_value() -> None:
    assert public_identity(ALICE) == ("ed25519", ALICE.keyval["public"])


def test_a_sigstore_key_is_its_identity_and_issuer() -> None:
    good = key("sigstore-oidc", "Fulcio", {"identity": "a@example.com", "issuer": "https://x"})
    assert public_identity(good) == ("sigstore", "a@example.com", "https://x")
    bad = key("sigstore-oidc", "Fulcio", {"identity": "a@example.com"})
    assert public_identity(bad) == "is a Sigstore key without an identity and issuer"


@pytest.mark.parametrize(
    ("keytype", "scheme", "keyval", "why"),
    [
        ("rsa", "rsa-pkcs1v15-sha1", {"public": "x"},
         "has type rsa/rsa-pkcs1v15-sha1, which TUF clients cannot verify"),
        ("ed25519", "ed25519", {}, "has no public value"),
        ("ed25519", "ed25519", {"public": "00" * 7}, "has a public value that is not an ed25519 key"),
        ("ed25519", "ed25519", {"public": "zz"}, "has a public value that is not an ed25519 key"),
        ("rsa", "rsassa-pss-sha256", {"public": "not a pem"},
         "has a public value that is not a PEM public key"),
        ("rsa", "rsassa-pss-sha256", {"public": "rsa-1024"},
         "is an RSA key of 1024 bits (at least 2048 needed)"),
        ("rsa", "rsassa-pss-sha256", {"public": "p256"},
         "is declared RSA but its public value is another kind of key"),
        ("ecdsa", "ecdsa-sha2-nistp384", {"public": "p256"},
         "has a public value that is not a secp384r1 key, as ecdsa-sha2-nistp384 needs"),
        ("ecdsa", "ecdsa-sha2-nistp256", {"public": "rsa-2048"},
         "has a public value that is not a secp256r1 key, as ecdsa-sha2-nistp256 needs"),
    ],
)  # fmt: skip
def test_keys_that_can_never_verify(
    keytype: str, scheme: str, keyval: dict[str, str], why: str
) -> None:
    named = {"rsa-1024": rsa_pem(1024), "rsa-2048": rsa_pem(2048), "p256": ec_pem(ec.SECP256R1)}
    keyval = {k: named.get(v, v) for k, v in keyval.items()}
    unusable = key(keytype, scheme, keyval)
    assert public_identity(unusable) == why
    (finding,) = check_key_set("targets", {unusable.keyid: unusable}, {})
    assert (finding.role, finding.code, finding.severity) == ("targets", "key-unusable", ERROR)
    assert finding.message == f"key {unusable.keyid[:16]} (key {unusable.keyid[:8]}) {why}"


# --- check_key_set ------------------------------------------------------------------


def test_an_honest_key_set_has_no_findings() -> None:
    other = new_signer("keys bob", **{KEYOWNER: "@bob"}).public_key
    assert findings([ALICE, other]) == []
    assert findings([]) == []


def test_one_public_key_under_two_keyids_counts_once() -> None:
    copy = key(ALICE.keytype, ALICE.scheme, ALICE.keyval, **{KEYOWNER: "@mallory"})
    found = check_key_set("root", {ALICE.keyid: ALICE, copy.keyid: copy}, {})
    assert [(f.code, f.severity) for f in found] == [("duplicate-key", ERROR)]
    first, second = sorted([ALICE.keyid, copy.keyid])
    assert found[0].message.startswith(f"key {second[:16]} (")
    assert found[0].message.endswith(
        f"is the same public key as key {first[:16]}: one key must appear once"
    )


def test_a_keyid_that_is_not_the_hash_of_the_key() -> None:
    forged = SSlibKey(
        "f" * 64, ALICE.keytype, ALICE.scheme, ALICE.keyval, dict(ALICE.unrecognized_fields)
    )
    assert findings([forged]) == [("keyid", ERROR)]
    (finding,) = check_key_set("root", {forged.keyid: forged}, {})
    assert finding.message == f"key {'f' * 16} (@alice): keyid is not the hash of the key"
    # the same key under the same keyid in known good: carried, kept with a warning
    assert findings([forged], known_good=[forged]) == [("keyid", WARNING)]
    # known good had another public key under that keyid: not carried
    other = new_signer("keys carol").public_key
    impostor = SSlibKey("f" * 64, other.keytype, other.scheme, other.keyval, {})
    assert findings([forged], known_good=[impostor]) == [("keyid", ERROR)]


def test_a_keyid_computed_without_custom_fields_is_a_legacy_warning() -> None:
    plain = SSlibKey("x", ALICE.keytype, ALICE.scheme, ALICE.keyval, {})
    legacy = SSlibKey(spec_keyid(plain), ALICE.keytype, ALICE.scheme, ALICE.keyval,
                      dict(ALICE.unrecognized_fields))  # fmt: skip
    (finding,) = check_key_set("root", {legacy.keyid: legacy}, {})
    assert (finding.code, finding.severity) == ("keyid", WARNING)
    assert finding.message.endswith("legacy keyid (computed without custom fields); kept")
    assert "(@alice)" in finding.message


def test_key_set_of_reads_root_keys_or_delegation_keys() -> None:
    root = Root()
    root.add_key(ALICE, "root")
    assert key_set_of(root) == {ALICE.keyid: ALICE}
    targets = Targets()
    assert key_set_of(targets) == {}
    targets.delegations = Delegations(
        keys={ALICE.keyid: ALICE},
        roles={"r": DelegatedRole("r", [ALICE.keyid], 1, True, paths=["r/*"])},
    )
    assert key_set_of(targets) == {ALICE.keyid: ALICE}
    assert key_set_of(Snapshot()) == {}
