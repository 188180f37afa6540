"""Names defined once: roles, custom metadata fields, file layout, defaults.

Nothing here does I/O.  The custom field names are tuf-on-ci's, so that
repositories stay manageable by both tools (DESIGN §3).
"""

from __future__ import annotations

from typing import Final

ROOT: Final = "root"
TARGETS: Final = "targets"
SNAPSHOT: Final = "snapshot"
TIMESTAMP: Final = "timestamp"
TOP_LEVEL_ROLES: Final = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
ONLINE_ROLES: Final = (TIMESTAMP, SNAPSHOT)

EXPIRY_PERIOD: Final = "x-tuf-on-ci-expiry-period"
SIGNING_PERIOD: Final = "x-tuf-on-ci-signing-period"
KEYOWNER: Final = "x-tuf-on-ci-keyowner"
ONLINE_URI: Final = "x-tuf-on-ci-online-uri"

METADATA_DIR: Final = "metadata"
TARGETS_DIR: Final = "targets"
ROOT_HISTORY_DIR: Final = "metadata/root_history"
EVENT_STATE_FILE: Final = "metadata/.signing-event-state"
SETTINGS_FILE: Final = ".tuf-on-ci-sign.ini"

EVENT_BRANCH_PREFIX: Final = "sign/"
MAIN_BRANCH: Final = "main"
DEFAULT_REMOTE: Final = "origin"

# Commits made where git has no identity configured (CI runners).
BOT_NAME: Final = "tufrepo"
BOT_EMAIL: Final = "41898282+github-actions[bot]@users.noreply.github.com"

# (expiry period, signing period) in days, as tuf-on-ci's defaults.
DEFAULT_PERIODS: Final[dict[str, tuple[int, int]]] = {
    ROOT: (365, 60),
    TARGETS: (365, 60),
    TIMESTAMP: (2, 1),
    SNAPSHOT: (365, 60),
}
DELEGATED_DEFAULT_PERIODS: Final = (365, 60)

# A new delegation ROLE covers ROLE/<file> and up to this many directory levels
# below ROLE/ (ROLE/a/b/c/<file>): the same four patterns tuf-on-ci generates,
# so repositories look the same whichever tool created the delegation.
DELEGATION_DEPTH: Final = 4

SPEC_VERSION: Final = "1.0.31"

# Here rather than beside their users so that the command line can show them
# in --help without importing python-tuf (#14: --help stays fast).
DOWNLOAD_TIMEOUT: Final = 300.0
"""Seconds a whole test-client or download run may take (option --timeout)."""
SITE_MARKER: Final = ".tufrepo-site"
"""The file at the top of a publish output listing what publish wrote there."""

VERIFIED_COMMIT: Final = "x-tufrepo-verified-commit"
"""A field of snapshot's signed part: the commit of main whose every artifact
online-sign checked against its metadata before signing this snapshot.  Signed
by the online key, so only CI vouches for it; later judgements of main read
only the files changed since (see ``ops.artifacts.for_main``)."""
