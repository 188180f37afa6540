"""Key identity: which keys can verify, and that one key counts once.

Pure checks over one key set (root's ``keys`` or a targets role's
``delegations.keys``), optionally beside the same key set in known good:

* a public key listed under two keyids is an error (one signature, copied,
  would count twice and show as two people);
* a key whose public value cannot be loaded, whose curve does not match its
  scheme, or an RSA key below 2048 bits is an error (a threshold that can never
  be met, or one met with a breakable key);
* key types no client we name can verify are errors; legacy names that
  securesystemslib still verifies (``ecdsa-sha2-nistp256`` as keytype) pass;
* a keyid that is not the spec hash of its key is an error for a key new in
  this transition and a warning for a key carried from known good under the
  same keyid with the same public key (real repositories carry keyids computed
  by older tools, and tuf-on-ci keeps a keyid when it edits a key's custom
  fields, DESIGN §3).

Not for: signature counting (python-tuf's ``get_verification_result`` does it).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from securesystemslib.formats import encode_canonical

from tufrepo.checks.findings import Finding, Severity
from tufrepo.core import fields

if TYPE_CHECKING:
    from securesystemslib.signer import Key

# (keytype, scheme) pairs python-tuf and tuf-js verify; Sigstore keys verify
# only in python-tuf with Sigstore support (status warns about that).
SUPPORTED_KEYS = frozenset(
    {
        ("ed25519", "ed25519"),
        ("ecdsa", "ecdsa-sha2-nistp256"),
        ("ecdsa", "ecdsa-sha2-nistp384"),
        ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"),  # legacy keytype naming
        ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"),  # legacy keytype naming
        ("rsa", "rsassa-pss-sha256"),
        ("rsa", "rsassa-pss-sha384"),
        ("rsa", "rsassa-pss-sha512"),
        ("sigstore-oidc", "Fulcio"),
    }
)
MIN_RSA_BITS = 2048
_CURVES = {"ecdsa-sha2-nistp256": ec.SECP256R1, "ecdsa-sha2-nistp384": ec.SECP384R1}


def key_set_of(signed: Any) -> dict[str, Key]:
    """The key set a root or targets role holds (empty for other roles)."""
    keys = getattr(signed, "keys", None)
    if isinstance(keys, dict):
        return dict(keys)
    delegations = getattr(signed, "delegations", None)
    if delegations is not None and delegations.keys:
        return dict(delegations.keys)
    return {}


def public_identity(key: Key) -> tuple[str, ...] | str:
    """What the key really is, independent of its keyid and custom fields.

    Returns:
        A comparable identity, or a string describing why the key can never
        verify anything.
    """
    if (key.keytype, key.scheme) not in SUPPORTED_KEYS:
        return f"has type {key.keytype}/{key.scheme}, which TUF clients cannot verify"
    if key.keytype == "sigstore-oidc":
        identity, issuer = key.keyval.get("identity"), key.keyval.get("issuer")
        if not isinstance(identity, str) or not isinstance(issuer, str):
            return "is a Sigstore key without an identity and issuer"
        return ("sigstore", identity, issuer)
    public = key.keyval.get("public")
    if not isinstance(public, str):
        return "has no public value"
    if key.keytype == "ed25519":
        try:
            raw = bytes.fromhex(public)
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            return "has a public value that is not an ed25519 key"
        return ("ed25519", raw.hex())
    try:
        loaded = serialization.load_pem_public_key(public.encode())
    except (ValueError, TypeError):
        return "has a public value that is not a PEM public key"
    if key.keytype == "rsa":
        if not isinstance(loaded, rsa.RSAPublicKey):
            return "is declared RSA but its public value is another kind of key"
        if loaded.key_size < MIN_RSA_BITS:
            return f"is an RSA key of {loaded.key_size} bits (at least {MIN_RSA_BITS} needed)"
    else:
        curve = _CURVES[key.scheme]
        if not isinstance(loaded, ec.EllipticCurvePublicKey) or not isinstance(
            loaded.curve, curve
        ):
            return f"has a public value that is not a {curve.name} key, as {key.scheme} needs"
    der = loaded.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ("pem", der.hex())


def _keyid_without_custom_fields(key: Key) -> str:
    """The keyid older tools computed: the hash of the key without its ``x-`` custom fields."""
    plain = {k: v for k, v in key.to_dict().items() if not k.startswith("x-")}
    data = encode_canonical(plain)
    return hashlib.sha256(str(data).encode()).hexdigest()


def check_key_set(role: str, keys: dict[str, Key], known_good: dict[str, Key]) -> list[Finding]:
    """Findings about one key set (see module docstring).

    Args:
        role: the role holding the key set (root, or the delegating targets role).
        keys: keyid -> key in the candidate.
        known_good: keyid -> key in known good (empty for a new role).
    """
    findings = []
    seen: dict[tuple[str, ...], str] = {}
    for keyid, key in sorted(keys.items()):
        who = f"key {keyid[:16]} ({fields.key_label(key)})"
        identity = public_identity(key)
        if isinstance(identity, str):
            # Attack/compat: a key that can never verify turns a threshold into
            # one that is never met, or met only by a tool that skips checks.
            findings.append(Finding(role, "key-unusable", f"{who} {identity}"))
            continue
        if identity in seen:
            # Attack: one signature copied under a second keyid counts twice.
            findings.append(
                Finding(
                    role,
                    "duplicate-key",
                    f"{who} is the same public key as key {seen[identity][:16]}: "
                    "one key must appear once",
                )
            )
        seen.setdefault(identity, keyid)
        if fields.spec_keyid(key) != keyid:
            carried = keyid in known_good and public_identity(known_good[keyid]) == identity
            legacy = keyid == _keyid_without_custom_fields(key)
            if carried or legacy:
                why = "carried from known good" if carried else "computed without custom fields"
                findings.append(
                    Finding(role, "keyid", f"{who}: legacy keyid ({why}); kept", Severity.WARNING)
                )
            else:
                findings.append(Finding(role, "keyid", f"{who}: keyid is not the hash of the key"))
    return findings
