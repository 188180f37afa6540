"""Sigstore keys and signers bound to one Sigstore instance (production by default).

securesystemslib's ``SigstoreSigner``/``SigstoreKey`` always talk to the
production instance.  :func:`register` installs subclasses bound to a chosen
instance (a ClientTrustConfig JSON file) under the stock URI scheme and key
type, so every signature and verification in this process (status, verify,
online-sign, publish, test-client, download) uses the same instance.  It is
called once by the CLI at start-up, never as an import side effect.

Production's trust root comes from Sigstore's TUF repository, refreshed once
per process with one try per request; when that fails (offline), one warning
and the copy sigstore-python keeps in its cache (seeded from the one it
embeds).  A chosen instance is read from its file and never touches the network.

sigstore-python itself is imported only when a Sigstore key is used.  Keys are
enrolled with :func:`enrol_person` and :func:`enrol_workflow`, not from a URI;
``BACKEND`` opens signers for ``sigstore:`` URIs (the registry in
``tufrepo.signers`` loads this module for them).

Not for: deciding who may sign (policy is in the metadata), prompting, printing.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib import parse

from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import (
    KEY_FOR_TYPE_AND_SCHEME,
    SIGNER_FOR_URI_SCHEME,
    Signature,
    SigstoreKey,
    SigstoreSigner,
)
from tuf.api.exceptions import DownloadError, DownloadHTTPError, RepositoryError
from tuf.ngclient.fetcher import FetcherInterface

from tufrepo import __version__
from tufrepo.errors import ConfigError, SignerUnavailableError, UsageError
from tufrepo.signers.base import Backend, SigstoreInstance, signer_from_uri

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from securesystemslib.signer import Key, SecretsHandler, Signer

    from tufrepo.signers.base import SignerContext

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ONLINE_WORKFLOW = ".github/workflows/online-sign.yml"
_GITHUB_REMOTE = re.compile(r"github\.com[:/]([^/\s]+)/([^/\s]+?)(?:\.git)?/?$")
GITLAB_ISSUER = "https://gitlab.com"
GITLAB_CI_CONFIG = ".gitlab-ci.yml"
# A GitLab remote: https://[user[:token]@]host[:port]/group[/subgroup...]/project[.git],
# ssh://git@host[:port]/group/.../project[.git] or git@host:group/.../project[.git].
# The host must name GitLab (gitlab.com, gitlab.example.com, code.gitlab.corp): a self-managed
# instance under another name cannot be told from any other git server by its URL.
_GITLAB_REMOTE = re.compile(
    r"^(?:(?P<scheme>https?)://(?:[^@/\s]+@)?(?P<http_host>[^/:\s]+)(?::\d+)?/"
    r"|ssh://(?:[^@/\s]+@)?(?P<ssh_host>[^/:\s]+)(?::\d+)?/"
    r"|[^@/\s]+@(?P<scp_host>[^/:\s]+):)"
    r"(?P<path>[^\s:]+?)(?:\.git)?/?$"
)
# The SAN Fulcio puts in certificates for GitLab CI: the ``ci_config_ref_uri`` claim,
# https://<host>/<project path>//<CI config file>@<ref>.
_GITLAB_IDENTITY = re.compile(r"^(https://[^/\s]+)/[^\s]+?//[^\s]+@refs/[^\s]+$")
_logger = logging.getLogger(__name__)


# Seconds to connect, and between received bytes, for one request to Sigstore's
# TUF repository.  Each request is tried once: python-tuf's default fetcher
# (urllib3) retries three times, logging every retry, and offline that only
# delays the same outcome.
TUF_TIMEOUT = 10.0
_TRUSTED_ROOT = "trusted_root.json"
_SIGNING_CONFIG = "signing_config.v0.2.json"
_CLIENT_TRUST_CONFIG_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"


@cache
def _trust_config(path: Path | None) -> Any:
    """The ClientTrustConfig for ``path`` (None: production), decided once per process."""
    from sigstore.models import ClientTrustConfig  # noqa: PLC0415 - heavy; only when used

    if path is None:
        return _production_trust_config()
    try:
        return ClientTrustConfig.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is not a Sigstore ClientTrustConfig: {e}") from e


class OneTryFetcher(FetcherInterface):
    """A python-tuf fetcher that tries each URL once, waiting at most ``timeout`` seconds.

    urllib.request honours the ``*_proxy``/``no_proxy`` variables, as
    python-tuf's own fetcher does.
    """

    def __init__(self, timeout: float = TUF_TIMEOUT) -> None:
        self.timeout = timeout
        # Its own opener: urlopen()'s global one keeps the proxies of its first use.
        self._opener = urllib.request.build_opener()

    def _fetch(self, url: str) -> Iterator[bytes]:
        # S310: the URLs are https URLs of a TUF repository, built by python-tuf.
        request = urllib.request.Request(url, headers={"User-Agent": f"tufrepo/{__version__}"})  # noqa: S310
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            e.close()
            # The status matters: a 404 for the next root version means "no newer root".
            raise DownloadHTTPError(f"HTTP error {e.code} for {url}", e.code) from e
        return _chunks(response, url)


def _chunks(response: http.client.HTTPResponse, url: str) -> Iterator[bytes]:
    with response:
        try:
            while chunk := response.read(64 * 1024):
                yield chunk
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(f"Failed to download {url}: {e}") from e


def _production_trust_config() -> Any:
    """Production's ClientTrustConfig: refreshed through TUF, else the cached or embedded copy.

    The refresh uses sigstore-python's own TUF metadata and cache directories
    and its embedded root, so both tools share one cache.  When it fails, one
    warning says which copy is used instead; nothing is retried.
    """
    from sigstore._internal.tuf import DEFAULT_TUF_URL, _get_dirs  # noqa: PLC0415
    from sigstore._utils import read_embedded  # noqa: PLC0415

    metadata_dir, targets_dir = _get_dirs(DEFAULT_TUF_URL)
    try:
        root = read_embedded("root.json", DEFAULT_TUF_URL)
        return refresh_trust_config(DEFAULT_TUF_URL, root, metadata_dir, targets_dir)
    except (DownloadError, RepositoryError, OSError) as e:
        reason = _innermost(e)
    try:
        config = _load_trust_config(
            (targets_dir / _TRUSTED_ROOT).read_bytes(),
            (targets_dir / _SIGNING_CONFIG).read_bytes(),
        )
        copy = "the cached copy"
    except (OSError, ValueError):
        config = _load_trust_config(
            read_embedded(_TRUSTED_ROOT, DEFAULT_TUF_URL),
            read_embedded(_SIGNING_CONFIG, DEFAULT_TUF_URL),
        )
        copy = "the copy embedded in sigstore-python"
    _logger.warning(
        "cannot refresh the Sigstore trust root from %s (%s); using %s",
        DEFAULT_TUF_URL,
        reason,
        copy,
    )
    return config


def refresh_trust_config(url: str, bootstrap: bytes, metadata_dir: Path, targets_dir: Path) -> Any:
    """The ClientTrustConfig of a Sigstore TUF repository, refreshed with one try per request.

    What sigstore-python's ``ClientTrustConfig.from_tuf`` does, with
    :class:`OneTryFetcher`: ``bootstrap`` is the initial root, ``metadata_dir``
    keeps the trusted metadata and ``targets_dir`` the downloaded files.

    Raises:
        DownloadError: a request failed.
        RepositoryError: the repository's metadata does not verify.
        OSError: the directories cannot be written.
    """
    from tuf.ngclient import Updater, UpdaterConfig  # noqa: PLC0415

    metadata_dir.mkdir(parents=True, exist_ok=True)
    updater = Updater(
        metadata_dir=str(metadata_dir),
        metadata_base_url=url,
        target_dir=str(targets_dir),
        target_base_url=f"{url}/targets/",
        fetcher=OneTryFetcher(),
        config=UpdaterConfig(app_user_agent=f"tufrepo/{__version__}"),
        bootstrap=bootstrap,
    )
    updater.refresh()
    contents = []
    for name in (_TRUSTED_ROOT, _SIGNING_CONFIG):
        info = updater.get_targetinfo(name)
        if info is None:
            raise RepositoryError(f"{url} lists no {name}")
        path = updater.find_cached_target(info) or updater.download_target(info)
        with open(path, "rb") as f:  # noqa: PTH123 - python-tuf returns str paths
            contents.append(f.read())
    return _load_trust_config(*contents)


def _load_trust_config(trusted_root: bytes, signing_config: bytes) -> Any:
    from sigstore.models import ClientTrustConfig  # noqa: PLC0415

    return ClientTrustConfig.from_json(
        json.dumps(
            {
                "mediaType": _CLIENT_TRUST_CONFIG_TYPE,
                "trustedRoot": json.loads(trusted_root),
                "signingConfig": json.loads(signing_config),
            }
        )
    )


def _innermost(error: BaseException) -> str:
    """The root cause's message, on one line (python-tuf wraps network errors)."""
    while error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return (
            _innermost(error.reason) if isinstance(error.reason, BaseException) else error.reason
        )
    return " ".join(str(error).split()) or type(error).__name__


def trust_config() -> Any:
    """The ClientTrustConfig of the instance in use."""
    return _trust_config(SigstoreInstance.path)


class InstanceSigstoreKey(SigstoreKey):
    """A Sigstore identity key verified against the registered instance."""

    def verify_signature(self, signature: Signature, data: bytes) -> None:
        """Verify a Sigstore bundle signature for this key's identity and issuer.

        Raises:
            UnverifiedSignatureError: wrong identity, issuer, data, or instance.
            VerificationError: the signature carries no usable bundle.
        """
        from sigstore.errors import Error as SigstoreError  # noqa: PLC0415
        from sigstore.models import Bundle  # noqa: PLC0415
        from sigstore.verify import Verifier  # noqa: PLC0415
        from sigstore.verify.policy import Identity  # noqa: PLC0415

        try:
            bundle = Bundle.from_json(json.dumps(signature.unrecognized_fields["bundle"]))
        except (KeyError, TypeError, ValueError, SigstoreError) as e:
            raise VerificationError(
                f"no valid Sigstore bundle in signature by {self.keyid}"
            ) from e
        policy = Identity(identity=self.keyval["identity"], issuer=self.keyval["issuer"])
        try:
            Verifier(trusted_root=trust_config().trusted_root).verify_artifact(
                data, bundle, policy
            )
        except SigstoreError as e:
            raise UnverifiedSignatureError(
                f"Failed to verify signature by {self.keyid}: {e}"
            ) from e


class InstanceSigstoreSigner(SigstoreSigner):
    """Signs with an OIDC identity token at the registered instance."""

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,  # noqa: ARG003 - the interface
    ) -> InstanceSigstoreSigner:
        """``sigstore:`` signs with ambient CI credentials; ``sigstore:?ambient=false`` in a browser."""
        from sigstore.oidc import IdentityToken, detect_credential  # noqa: PLC0415

        params = dict(parse.parse_qsl(parse.urlparse(priv_key_uri).query))
        if params.get("ambient", "true") == "true":
            credential = detect_credential()
            if not credential:
                raise SignerUnavailableError(
                    "no ambient Sigstore credentials (OIDC token) in this environment",
                    hint="in GitHub Actions add `permissions: id-token: write` to the job; "
                    "in GitLab CI give the job `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`; "
                    "elsewhere set SIGSTORE_ID_TOKEN",
                )
            return cls.with_token(IdentityToken(credential), public_key, check_identity=False)
        # A person's sign-in names its identity: check it before anything is signed, so
        # that signing in with the wrong account leaves no entry in the transparency log.
        return cls.with_token(_browser_sign_in(), public_key)

    @classmethod
    def with_token(
        cls, token: Any, public_key: Key, *, check_identity: bool = True
    ) -> InstanceSigstoreSigner:
        """A signer for ``public_key`` from an identity token (checked against the key).

        An ambient CI token does not expose the certificate identity
        (``check_identity=False``); a wrong workflow is then caught when the
        signature is verified.
        """
        from sigstore.oidc import IdentityToken  # noqa: PLC0415

        if isinstance(token, str):
            token = IdentityToken(token)
        issuer = public_key.keyval.get("issuer")
        identity = public_key.keyval.get("identity")
        if token.federated_issuer != issuer:
            raise SignerUnavailableError(
                f"the Sigstore token is from {token.federated_issuer}, the key expects {issuer}"
            )
        if check_identity and token.identity != identity:
            raise SignerUnavailableError(
                f"the Sigstore token is for {token.identity}, the key expects {identity}"
            )
        return cls(token, public_key)

    def sign(self, payload: bytes) -> Signature:
        """Sign at the registered instance; the bundle goes with the signature."""
        from sigstore.errors import Error as SigstoreError  # noqa: PLC0415
        from sigstore.sign import SigningContext  # noqa: PLC0415

        try:
            with SigningContext.from_trust_config(trust_config()).signer(self._token) as signer:
                bundle = signer.sign_artifact(payload)
        except (SigstoreError, OSError) as e:
            raise SignerUnavailableError(f"Sigstore signing failed: {e}") from e
        bundle_json = json.loads(bundle.to_json())
        return Signature(
            self.public_key.keyid,
            bundle_json["messageSignature"]["signature"],
            {"bundle": bundle_json},
        )


def register(trust_config_path: Path | None) -> None:
    """Use the Sigstore instance of ``trust_config_path`` (None: production) everywhere.

    Call once at start-up, before any metadata is parsed: key classes are
    chosen when metadata is deserialised.
    """
    SigstoreInstance.path = trust_config_path
    SIGNER_FOR_URI_SCHEME[SigstoreSigner.SCHEME] = InstanceSigstoreSigner
    KEY_FOR_TYPE_AND_SCHEME[(SigstoreKey.DEFAULT_KEY_TYPE, SigstoreKey.DEFAULT_SCHEME)] = (
        InstanceSigstoreKey
    )


def _key(identity: str, issuer: str) -> InstanceSigstoreKey:
    _, key = SigstoreSigner.import_(identity, issuer)
    return InstanceSigstoreKey(key.keyid, key.keytype, key.scheme, dict(key.keyval))


def _browser_sign_in() -> Any:
    """An identity token from the instance's OpenID provider, through the user's browser.

    sigstore-python opens ``$BROWSER`` (or the system's browser) and waits for
    the redirect on a local port.

    Raises:
        SignerUnavailableError: the sign-in failed or was cancelled.
    """
    from sigstore.oidc import Issuer  # noqa: PLC0415

    try:
        return Issuer(trust_config().signing_config.get_oidc_url()).identity_token()
    except Exception as e:  # sigstore raises several types for failed flows
        raise SignerUnavailableError(f"Sigstore sign-in failed: {e}") from e


def enrol_person(token: str | None) -> tuple[str, Key]:
    """A person's Sigstore identity key: from ``token``, or a browser sign-in.

    Returns:
        The signer URI (``sigstore:?ambient=false``) and the public key.
    """
    from sigstore.oidc import IdentityToken  # noqa: PLC0415

    if token:
        try:
            identity_token = IdentityToken(token)
        except Exception as e:  # sigstore raises several types for bad tokens
            raise SignerUnavailableError(f"Sigstore sign-in failed: {e}") from e
    else:
        identity_token = _browser_sign_in()
    return "sigstore:?ambient=false", _key(
        identity_token.identity, identity_token.federated_issuer
    )


def workflow_identity(remote_url: str | None) -> str:
    """The identity of this repository's online-sign job, derived from its remote URL.

    On GitHub, the online-sign workflow (``.github/workflows/online-sign.yml``)
    on main.  On GitLab (gitlab.com, or a self-managed instance whose host name
    contains ``gitlab``), the pipeline of ``.gitlab-ci.yml`` on main:
    ``https://gitlab.example.com/group/project//.gitlab-ci.yml@refs/heads/main``;
    its issuer is the instance's URL (:func:`workflow_issuer`).

    Raises:
        UsageError: the remote is neither a GitHub nor a recognisable GitLab repository.
    """
    match = _GITHUB_REMOTE.search(remote_url or "")
    if match:
        owner, repo = match.groups()
        return f"https://github.com/{owner}/{repo}/{ONLINE_WORKFLOW}@refs/heads/main"
    gitlab = gitlab_project(remote_url or "")
    if gitlab:
        server, path = gitlab
        return f"{server}/{path}//{GITLAB_CI_CONFIG}@refs/heads/main"
    raise UsageError(
        "cannot derive the online-sign workflow identity from the remote URL",
        hint="pass --sigstore-identity and --sigstore-issuer (on a self-managed GitLab: "
        "--sigstore-identity https://HOST/GROUP/PROJECT//.gitlab-ci.yml@refs/heads/main "
        "--sigstore-issuer https://HOST)",
    )


def gitlab_project(remote_url: str) -> tuple[str, str] | None:
    """``(server URL, project path)`` of a GitLab remote URL, or None when it is not one.

    The server URL is https://HOST (the scheme and port of a remote are how git
    reaches the server, not how GitLab names itself in identity tokens); the
    path keeps every subgroup.
    """
    match = _GITLAB_REMOTE.match(remote_url.strip())
    if not match:
        return None
    host = (match["http_host"] or match["ssh_host"] or match["scp_host"]).lower()
    path = match["path"].strip("/")
    if not any("gitlab" in label for label in host.split(".")):
        return None
    if "/" not in path or "//" in path or path.startswith("-"):
        return None
    return f"https://{host}", path


def workflow_issuer(identity: str) -> str:
    """The OIDC issuer of a CI identity: the GitLab instance's URL, or GitHub Actions'."""
    match = _GITLAB_IDENTITY.match(identity)
    return match.group(1) if match else GITHUB_ISSUER


def enrol_workflow(identity: str, issuer: str | None = None) -> tuple[str, Key]:
    """The CI identity key for online roles: signs with ambient credentials (``sigstore:``).

    Without ``issuer``, the one :func:`workflow_issuer` derives from ``identity``.
    """
    return "sigstore:", _key(identity, issuer or workflow_issuer(identity))


def is_sigstore(key: Key) -> bool:
    """True for Sigstore identity keys (most non-Python clients cannot verify them)."""
    return key.keytype == SigstoreKey.DEFAULT_KEY_TYPE


def load_signer(
    uri: str, key: Key, secrets_handler: SecretsHandler | None, context: SignerContext
) -> Signer:
    """A signer for the Sigstore identity ``key``.

    ``sigstore:?ambient=false`` signs with ``context.sigstore_token`` when
    given, instead of a browser sign-in; otherwise the signer registered for
    the scheme (by :func:`register`) is used.

    Raises:
        SignerUnavailableError: the token is not for ``key``'s identity, or
            the signer cannot be opened.
    """
    if context.sigstore_token and "ambient=false" in uri:
        return InstanceSigstoreSigner.with_token(context.sigstore_token, key)
    return signer_from_uri(uri, key, secrets_handler)


# Sigstore identities are enrolled by enrol_person / enrol_workflow, not imported from a URI.
BACKEND = Backend(import_key=None, load_signer=load_signer)
