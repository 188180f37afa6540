"""The GitHub side of the CI glue, through the GitHub CLI (`gh`, see ghcli.py).

The repository comes from ``$GH_REPO`` and the token from ``$GH_TOKEN``, as
`gh` reads them.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).parent))
from forge import ChangeRequest, Comment
from ghcli import GhError, gh, gh_json

if TYPE_CHECKING:
    from collections.abc import Mapping

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ONLINE_WORKFLOW = ".github/workflows/online-sign.yml"


class GitHub:
    """Pull requests, comments and issues with `gh`; outputs in ``$GITHUB_OUTPUT``."""

    name = "github"

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def find_change_request(self, branch: str) -> ChangeRequest | None:
        """The open pull request from ``branch``."""
        found = gh_json(
            "pr", "list", "--head", branch, "--state", "open", "--json", "number,isDraft"
        )
        return ChangeRequest(int(found[0]["number"]), bool(found[0]["isDraft"])) if found else None

    def open_change_request(self, branch: str, title: str, body: str) -> ChangeRequest:
        """A draft pull request into main."""
        gh("pr", "create", "--draft", "--head", branch, "--base", "main",
           "--title", title, "--body", body)  # fmt: skip
        request = self.find_change_request(branch)
        if request is None:
            raise RuntimeError(f"the pull request for {branch} was not created")
        return request

    def set_draft(self, request: ChangeRequest, draft: bool) -> None:
        """`gh pr ready` (``--undo``: back to draft)."""
        gh("pr", "ready", str(request.number), *(["--undo"] if draft else []))

    def comments(self, request: ChangeRequest) -> list[Comment]:
        """The pull request's conversation comments."""
        found = gh_json(
            "api", "--paginate", f"repos/{{owner}}/{{repo}}/issues/{request.number}/comments"
        )
        return [Comment(int(c["id"]), str(c.get("body", ""))) for c in found or []]

    def add_comment(self, request: ChangeRequest, body: str) -> None:
        """`gh pr comment`."""
        gh("pr", "comment", str(request.number), "--body-file", "-", stdin=body)

    def edit_comment(self, request: ChangeRequest, comment: Comment, body: str) -> None:  # noqa: ARG002
        """PATCH the issue comment (comment ids are unique in the repository)."""
        gh("api", "-X", "PATCH", f"repos/{{owner}}/{{repo}}/issues/comments/{comment.id}",
           "-F", "body=@-", stdin=body)  # fmt: skip

    def find_issue(self, label: str) -> int | None:
        """`gh issue list --label`."""
        found = gh_json("issue", "list", "--label", label, "--state", "open", "--json", "number")
        return int(found[0]["number"]) if found else None

    def open_issue(self, label: str, title: str, body: str) -> None:
        """`gh issue create`, after creating the label (it may exist already)."""
        with contextlib.suppress(GhError):
            gh("label", "create", label, "--force", "--description", "tufrepo failures")
        gh("issue", "create", "--title", title, "--label", label, "--body", body)

    def comment_issue(self, number: int, body: str) -> None:
        """`gh issue comment`."""
        gh("issue", "comment", str(number), "--body", body)

    def close_issue(self, number: int, comment: str) -> None:
        """`gh issue close --comment`."""
        gh("issue", "close", str(number), "--comment", comment)

    def start_event_pipeline(self, branch: str) -> None:
        """Dispatch signing-event.yml: pushes with the default token start no workflow."""
        gh("workflow", "run", "signing-event.yml", "--ref", branch)

    def run_url(self) -> str:
        """The workflow run's page."""
        server = self.env.get("GITHUB_SERVER_URL", "https://github.com")
        repo, run = self.env.get("GITHUB_REPOSITORY", ""), self.env.get("GITHUB_RUN_ID", "")
        return f"{server}/{repo}/actions/runs/{run}"

    def sigstore_identity(self) -> tuple[str, str]:
        """online-sign.yml on main, certified for GitHub Actions' token issuer."""
        repo = self.env.get("GITHUB_REPOSITORY") or self.env.get("GH_REPO", "")
        return f"https://github.com/{repo}/{ONLINE_WORKFLOW}@refs/heads/main", GITHUB_ISSUER

    def outputs_file(self) -> Path | None:
        """``$GITHUB_OUTPUT``."""
        path = self.env.get("GITHUB_OUTPUT")
        return Path(path) if path else None
