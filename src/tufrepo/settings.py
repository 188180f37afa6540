"""The signer settings file, ``.tuf-on-ci-sign.ini`` at the checkout's top level.

Format (shared with tuf-on-ci, DESIGN §3)::

    [settings]
    user-name = @my-github-handle
    pull-remote = origin
    push-remote = origin
    pykcs11lib = /usr/lib/x86_64-linux-gnu/libykcs11.so   ; optional

    [signing-keys]
    <keyid> = <signer URI>                                 ; optional

Not for: prompting for missing values (the CLI does), or writing the file.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tufrepo.core.constants import DEFAULT_REMOTE, SETTINGS_FILE
from tufrepo.core.fields import normalize_handle
from tufrepo.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """A signer's local settings."""

    user_name: str
    pull_remote: str = DEFAULT_REMOTE
    push_remote: str = DEFAULT_REMOTE
    pykcs11lib: str | None = None
    signing_keys: dict[str, str] = field(default_factory=dict)


def settings_path(top: Path) -> Path:
    """Where the settings file of a checkout lives."""
    return top / SETTINGS_FILE


def load_settings(top: Path, *, user_override: str | None = None) -> Settings:
    """Read the settings file of the checkout at ``top``.

    Args:
        top: the checkout's top-level directory.
        user_override: a user name given on the command line; with it the
            file is optional.

    Raises:
        ConfigError: the file is missing (and no override), unreadable, not an
            ini file, or has no user-name (a usage error: exit 2).
    """
    path = settings_path(top)
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError) as e:
            # configparser's messages span lines; the error line holds one.
            detail = " ".join(str(e).split())
            raise ConfigError(
                f"{path.name} is not a valid settings file: {detail}",
                hint=f"fix or recreate {path.name}: '[settings]' then "
                "'user-name = @your-github-handle'",
            ) from e
    elif user_override is None:
        raise ConfigError(
            f"no signer settings file {path.name} in {top}",
            hint=f"create {path.name} with '[settings]' and 'user-name = @your-github-handle'",
        )
    section = parser["settings"] if parser.has_section("settings") else {}
    user = user_override or section.get("user-name")
    if not user:
        raise ConfigError(
            f"{path.name} has no user-name",
            hint="add 'user-name = @your-github-handle' under [settings]",
        )
    try:
        handle = normalize_handle(user)
    except UsageError as e:
        raise ConfigError(f"{path.name}: {e}", hint=e.hint) from e
    pull = section.get("pull-remote") or DEFAULT_REMOTE
    push = section.get("push-remote") or pull
    keys = dict(parser["signing-keys"]) if parser.has_section("signing-keys") else {}
    return Settings(
        user_name=handle,
        pull_remote=pull,
        push_remote=push,
        pykcs11lib=section.get("pykcs11lib") or None,
        signing_keys=keys,
    )
