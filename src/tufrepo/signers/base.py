"""What every signer backend shares: the backend interface, its context, and key helpers.

A backend is one module of this package that handles one or more signer URI
schemes. It exposes ``BACKEND``, a :class:`Backend` whose two callables the
registry in :mod:`tufrepo.signers` calls with the URI and a :class:`SignerContext`::

    BACKEND = Backend(import_key=_import_key, load_signer=_load_signer)

Backends import only this module (and :mod:`tufrepo.errors`), never the
registry, so that the registry can load them lazily without an import cycle.

Not for: choosing a backend for a URI (the registry in ``tufrepo.signers``),
asking for secrets (the caller's ``SecretsHandler``), prompting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from securesystemslib.signer import Signer

from tufrepo.errors import SignerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from securesystemslib.signer import Key, SecretsHandler


class SigstoreInstance:
    """The Sigstore instance of this process (None: production), kept here only.

    ``sigstore_lazy.register`` chooses it at start-up; ``sigstore`` reads it
    for every trust root it uses, so enrolment and signing that import that
    module directly, before any Sigstore key was parsed, use it too.
    """

    path: ClassVar[Path | None] = None


@dataclass(frozen=True)
class SignerContext:
    """What the caller (the CLI) knows that backends need; never read from the environment here.

    Attributes:
        path_prefix: base directory for relative ``file2:`` paths
            (``CRYPTO_SIGNER_PATH_PREFIX``, as securesystemslib resolves them).
        pykcs11lib: the PKCS#11 module for ``hsm:`` URIs (settings file or
            ``PYKCS11LIB``), or None to probe well-known locations.
        sigstore_token: an identity token to sign ``sigstore:?ambient=false``
            with instead of a browser sign-in (``SIGSTORE_IDENTITY_TOKEN``).
    """

    path_prefix: str | None = None
    pykcs11lib: str | None = None
    sigstore_token: str | None = None


@dataclass(frozen=True)
class Backend:
    """How one backend enrols keys and opens signers for its URI schemes.

    Attributes:
        import_key: ``(uri, context) -> Key``, the public key to store in
            metadata; None when keys of these schemes are not enrolled from
            a URI (Sigstore identities are enrolled by ``signers.sigstore``).
        load_signer: ``(uri, key, secrets_handler, context) -> Signer``, a
            signer for ``key``; secrets are asked for only through
            ``secrets_handler``.
    """

    import_key: Callable[[str, SignerContext], Key] | None
    load_signer: Callable[[str, Key, SecretsHandler | None, SignerContext], Signer]


def uri_scheme(uri: str) -> str:
    """The scheme of a signer URI (``file2``, ``hsm``, ``gcpkms``…)."""
    return uri.split(":", 1)[0] if ":" in uri else ""


def same_key(a: Key, b: Key) -> bool:
    """True when two keys have the same type, scheme and key material."""
    return (a.keytype, a.scheme, a.keyval) == (b.keytype, b.scheme, b.keyval)


def signer_from_uri(uri: str, key: Key, secrets_handler: SecretsHandler | None) -> Signer:
    """A signer from securesystemslib's own URI scheme registry.

    Raises:
        SignerUnavailableError: the scheme is unknown or the signer cannot be opened.
    """
    try:
        return Signer.from_priv_key_uri(uri, key, secrets_handler)
    except (ValueError, OSError, RuntimeError) as e:
        raise SignerUnavailableError(f"cannot load signer {uri}: {e}") from e


class WrappedSigner(Signer):
    """A backend signer wrapped so that its failures become SignerUnavailableError.

    Subclasses implement ``sign`` around ``self._inner.sign``; they are built
    by their module's ``load_signer``, never through the URI registry.
    """

    def __init__(self, inner: Signer) -> None:
        self._inner = inner

    @property
    def public_key(self) -> Key:
        """The wrapped signer's public key (as listed in the metadata)."""
        return self._inner.public_key

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Signer:
        """Not registered for a scheme: built by ``load_signer`` of its module."""
        raise NotImplementedError(f"{cls.__name__} is built by its module's load_signer")
