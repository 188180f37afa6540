"""What the CI glue needs from a forge, behind one small interface: GitHub or GitLab.

The glue scripts (event_pr.py, report.py, dispatch_events.py) decide; a
``Forge`` only carries out:

* the change request of a signing event (a GitHub pull request, a GitLab
  merge request): find it, open it as a draft, mark it ready or draft again;
* its one status comment: list comments, add one, edit one;
* the failure issue of a pipeline: find the open one, open, comment, close;
* start the signing-event pipeline for a branch CI pushed;
* where results go (GitHub step outputs, GitLab dotenv reports) and the
  CI's Sigstore identity (what ``--online-key sigstore`` enrols).

``from_env()`` picks the implementation from the CI's own variables
(``GITLAB_CI`` set: GitLab; otherwise GitHub, as before).  Both are used
by both pipelines' glue and tested against recording stand-ins.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

sys.path.insert(0, str(Path(__file__).parent))


@dataclass
class ChangeRequest:
    """A pull request (GitHub) or merge request (GitLab) of a signing event."""

    number: int
    draft: bool
    title: str = ""


@dataclass
class Comment:
    """A comment on a change request."""

    id: int
    body: str


class Forge(Protocol):
    """One forge's side of the CI glue."""

    name: str

    def find_change_request(self, branch: str) -> ChangeRequest | None:
        """The open change request from ``branch`` into main, if any."""

    def open_change_request(self, branch: str, title: str, body: str) -> ChangeRequest:
        """Open a draft change request from ``branch`` into main."""

    def set_draft(self, request: ChangeRequest, draft: bool) -> None:
        """Mark ``request`` as a draft, or as ready for review."""

    def comments(self, request: ChangeRequest) -> list[Comment]:
        """Every comment on ``request``, oldest first."""

    def add_comment(self, request: ChangeRequest, body: str) -> None:
        """Comment on ``request``."""

    def edit_comment(self, request: ChangeRequest, comment: Comment, body: str) -> None:
        """Replace the text of ``comment``."""

    def find_issue(self, label: str) -> int | None:
        """The open issue carrying ``label``, if any."""

    def open_issue(self, label: str, title: str, body: str) -> None:
        """Open an issue labelled ``label`` (creating the label when needed)."""

    def comment_issue(self, number: int, body: str) -> None:
        """Comment on an issue."""

    def close_issue(self, number: int, comment: str) -> None:
        """Close an issue with a last comment."""

    def start_event_pipeline(self, branch: str) -> None:
        """Run the signing-event pipeline on ``branch`` (which CI pushed)."""

    def run_url(self) -> str:
        """The web page of the current run (workflow run, pipeline)."""

    def sigstore_identity(self) -> tuple[str, str]:
        """``(identity, issuer)`` of this repository's online-sign job on main."""

    def outputs_file(self) -> Path | None:
        """Where results for later steps or jobs go (None: nowhere)."""


def from_env(env: Mapping[str, str] | None = None) -> Forge:
    """The forge this CI job runs on."""
    env = os.environ if env is None else env
    if env.get("GITLAB_CI"):
        from forge_gitlab import GitLab  # noqa: PLC0415 - one forge per process

        return GitLab.from_env(env)
    from forge_github import GitHub  # noqa: PLC0415

    return GitHub(env)
