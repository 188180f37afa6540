"""The GitLab side of the CI glue, through GitLab's REST API (v4), with no dependencies.

Read from the job's predefined variables: ``CI_API_V4_URL`` (the API),
``CI_PROJECT_PATH`` (the project), ``CI_PIPELINE_URL``, ``CI_SERVER_URL``.
The token is ``TUFREPO_GITLAB_TOKEN`` (a project access token with the
``api`` scope, Developer role, kept in a protected, masked variable) sent as
``PRIVATE-TOKEN``; without it ``CI_JOB_TOKEN`` as ``JOB-TOKEN``, which GitLab
accepts on a few endpoints only (not merge requests, notes or issues), so
only for instances that allow more.

Merge requests are drafts through the ``Draft:`` title prefix (GitLab's own
convention); labels are created by GitLab when an issue names a new one; the
signing-event pipeline is started with ``POST /projects/:id/pipeline``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge import ChangeRequest, Comment

if TYPE_CHECKING:
    from collections.abc import Mapping

DRAFT = "Draft: "
TOKEN_VARIABLE = "TUFREPO_GITLAB_TOKEN"  # noqa: S105 - a variable name
TIMEOUT = 30.0


class GitLabError(RuntimeError):
    """A GitLab API request failed."""


@dataclass
class GitLab:
    """Merge requests, notes and issues through the REST API; outputs in a dotenv report."""

    api: str
    project: str
    headers: dict[str, str]
    env: Mapping[str, str]
    name: str = "gitlab"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitLab:
        """The project and credentials of the running job."""
        api = env.get("CI_API_V4_URL") or f"{env.get('CI_SERVER_URL', '')}/api/v4"
        project = env.get("CI_PROJECT_PATH") or env.get("CI_PROJECT_ID", "")
        if not api.startswith(("https://", "http://")) or not project:
            raise GitLabError("CI_API_V4_URL and CI_PROJECT_PATH are needed (a GitLab CI job)")
        if env.get(TOKEN_VARIABLE):
            headers = {"PRIVATE-TOKEN": env[TOKEN_VARIABLE]}
        elif env.get("CI_JOB_TOKEN"):
            headers = {"JOB-TOKEN": env["CI_JOB_TOKEN"]}
        else:
            raise GitLabError(f"no {TOKEN_VARIABLE} (or CI_JOB_TOKEN) for the GitLab API")
        return cls(api.rstrip("/"), urllib.parse.quote(project, safe=""), headers, env)

    # --- HTTP ---------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, data: dict[str, Any] | None = None
    ) -> tuple[Any, str]:
        """One request: the decoded JSON answer and the ``X-Next-Page`` header."""
        body = json.dumps(data).encode() if data is not None else None
        headers = {**self.headers, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = f"{self.api}/projects/{self.project}/{path}"
        # S310: the URL is the job's own GitLab API (http(s) checked in from_env).
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                text = response.read().decode()
                next_page = response.headers.get("X-Next-Page", "")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            e.close()
            raise GitLabError(f"{method} {path}: HTTP {e.code} {detail}") from e
        except OSError as e:
            raise GitLabError(f"{method} {path}: {e}") from e
        return (json.loads(text) if text.strip() else None), next_page

    def _get_all(self, path: str, query: dict[str, str]) -> list[Any]:
        """Every page of a list endpoint."""
        found: list[Any] = []
        page = "1"
        while page:
            params = urllib.parse.urlencode({**query, "per_page": "100", "page": page})
            items, page = self._request("GET", f"{path}?{params}")
            found.extend(items or [])
        return found

    # --- merge requests -----------------------------------------------------------------

    def find_change_request(self, branch: str) -> ChangeRequest | None:
        """The open merge request from ``branch`` into main."""
        found = self._get_all(
            "merge_requests",
            {"state": "opened", "source_branch": branch, "target_branch": "main"},
        )
        if not found:
            return None
        mr = found[0]
        title = str(mr.get("title", ""))
        draft = bool(mr.get("draft", mr.get("work_in_progress", title.startswith(DRAFT))))
        return ChangeRequest(int(mr["iid"]), draft, title)

    def open_change_request(self, branch: str, title: str, body: str) -> ChangeRequest:
        """A draft merge request into main that removes the event branch when merged."""
        mr, _ = self._request(
            "POST",
            "merge_requests",
            {
                "source_branch": branch,
                "target_branch": "main",
                "title": DRAFT + title,
                "description": body,
                "remove_source_branch": True,
            },
        )
        return ChangeRequest(int(mr["iid"]), draft=True, title=str(mr.get("title", DRAFT + title)))

    def set_draft(self, request: ChangeRequest, draft: bool) -> None:
        """Add or remove the ``Draft:`` prefix of the title."""
        plain = request.title.removeprefix(DRAFT)
        self._request(
            "PUT", f"merge_requests/{request.number}", {"title": DRAFT + plain if draft else plain}
        )

    def comments(self, request: ChangeRequest) -> list[Comment]:
        """The merge request's notes by people and bots (system notes left out), oldest first."""
        notes = self._get_all(
            f"merge_requests/{request.number}/notes", {"sort": "asc", "order_by": "created_at"}
        )
        return [
            Comment(int(n["id"]), str(n.get("body", ""))) for n in notes if not n.get("system")
        ]

    def add_comment(self, request: ChangeRequest, body: str) -> None:
        """A new note."""
        self._request("POST", f"merge_requests/{request.number}/notes", {"body": body})

    def edit_comment(self, request: ChangeRequest, comment: Comment, body: str) -> None:
        """Replace a note's text."""
        self._request("PUT", f"merge_requests/{request.number}/notes/{comment.id}", {"body": body})

    # --- failure issues -----------------------------------------------------------------

    def find_issue(self, label: str) -> int | None:
        """The open issue labelled ``label``."""
        found = self._get_all("issues", {"state": "opened", "labels": label})
        return int(found[0]["iid"]) if found else None

    def open_issue(self, label: str, title: str, body: str) -> None:
        """A new issue (GitLab creates a missing label)."""
        self._request("POST", "issues", {"title": title, "labels": label, "description": body})

    def comment_issue(self, number: int, body: str) -> None:
        """A note on the issue."""
        self._request("POST", f"issues/{number}/notes", {"body": body})

    def close_issue(self, number: int, comment: str) -> None:
        """A last note, then close."""
        self.comment_issue(number, comment)
        self._request("PUT", f"issues/{number}", {"state_event": "close"})

    # --- pipelines, identity, outputs ---------------------------------------------------

    def start_event_pipeline(self, branch: str) -> None:
        """A new pipeline on ``branch`` (CI pushes with ``ci.skip`` start none)."""
        self._request("POST", "pipeline", {"ref": branch})

    def run_url(self) -> str:
        """The pipeline's page."""
        return self.env.get("CI_PIPELINE_URL", "")

    def sigstore_identity(self) -> tuple[str, str]:
        """The main pipeline's CI config on this instance, and the instance as issuer.

        What Fulcio certifies for a GitLab ID token: the ``ci_config_ref_uri`` claim.
        """
        server = self.env.get("CI_SERVER_URL", "https://gitlab.com").rstrip("/")
        config = self.env.get("CI_CONFIG_PATH") or ".gitlab-ci.yml"
        path = self.env.get("CI_PROJECT_PATH", "")
        return f"{server}/{path}//{config}@refs/heads/main", server

    def outputs_file(self) -> Path | None:
        """The dotenv report ``$TUFREPO_DOTENV`` names."""
        path = self.env.get("TUFREPO_DOTENV")
        return Path(path) if path else None
