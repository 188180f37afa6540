"""Keep a signing event's change request in step with `tufrepo status` (either forge).

* open a draft pull request (GitHub) or merge request (GitLab) for the event
  branch if there is none;
* keep exactly one status comment, updated in place (found by a marker);
* mark the change request ready when status exited 0, draft otherwise.

    python .github/scripts/event_pr.py --branch sign/x --status-exit 3 --markdown status.md

Exit 1 when status itself failed (exit codes other than 0, 3, 4), after
commenting, so the run shows the failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import forge
from forge import ChangeRequest, Forge

MARKER = "<!-- tufrepo-status -->"
READY, WAITING, INVALID = 0, 3, 4


def ensure_change_request(hub: Forge, branch: str) -> ChangeRequest:
    """The event's change request, opened as a draft when missing."""
    request = hub.find_change_request(branch)
    if request is None:
        request = hub.open_change_request(
            branch,
            f"Signing event: {branch}",
            f"Signing event `{branch}`. Signers sign with `repo-sign {branch}`; "
            "the status comment below is kept up to date. Merge when it says ready.",
        )
    return request


def comment_body(markdown: str, status_exit: int) -> str:
    """The status comment: marker, the status report, and a closing line."""
    footer = {
        READY: "### Signing event is ready\nEvery role is signed: review and merge.",
        WAITING: "Waiting for signatures or invitations.",
        INVALID: "The event is invalid: see the errors above.",
    }.get(status_exit, f"`tufrepo status` failed (exit {status_exit}); see the CI run.")
    return f"{MARKER}\n{markdown.rstrip()}\n\n{footer}\n"


def upsert_comment(hub: Forge, request: ChangeRequest, body: str) -> None:
    """Update our status comment, or create it the first time."""
    ours = [c for c in hub.comments(request) if c.body.startswith(MARKER)]
    if ours:
        hub.edit_comment(request, ours[0], body)
    else:
        hub.add_comment(request, body)


def set_ready(hub: Forge, request: ChangeRequest, ready: bool) -> None:
    """Ready for review when the event is ready, draft otherwise (only when it changes)."""
    if ready == request.draft:
        hub.set_draft(request, not ready)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branch", required=True)
    parser.add_argument("--status-exit", type=int, required=True)
    parser.add_argument("--markdown", type=Path, required=True)
    args = parser.parse_args(argv)
    markdown = args.markdown.read_text(encoding="utf-8") if args.markdown.exists() else ""
    hub = forge.from_env()
    request = ensure_change_request(hub, args.branch)
    upsert_comment(hub, request, comment_body(markdown, args.status_exit))
    set_ready(hub, request, args.status_exit == READY)
    return 0 if args.status_exit in (READY, WAITING, INVALID) else 1


if __name__ == "__main__":
    sys.exit(main())
