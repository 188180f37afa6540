"""Keep a signing event's pull request in step with `tufrepo status` (signing-event.yml).

* open a draft pull request for the event branch if there is none;
* keep exactly one status comment, updated in place (found by a marker);
* mark the pull request ready when status exited 0, draft otherwise.

    python .github/scripts/event_pr.py --branch sign/x --status-exit 3 --markdown status.md

Exit 1 when status itself failed (exit codes other than 0, 3, 4), after
commenting, so the workflow run shows the failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from ghcli import gh, gh_json

MARKER = "<!-- tufrepo-status -->"
READY, WAITING, INVALID = 0, 3, 4


def find_pull_request(branch: str) -> dict[str, Any] | None:
    """The open pull request from ``branch``, if any."""
    found = gh_json("pr", "list", "--head", branch, "--state", "open", "--json", "number,isDraft")
    return found[0] if found else None


def ensure_pull_request(branch: str) -> dict[str, Any]:
    """The event's pull request, opened as a draft when missing."""
    pr = find_pull_request(branch)
    if pr is None:
        gh(
            "pr", "create", "--draft", "--head", branch, "--base", "main",
            "--title", f"Signing event: {branch}",
            "--body", f"Signing event `{branch}`. Signers sign with `repo-sign {branch}`; "
            "the status comment below is kept up to date. Merge when it says ready.",
        )  # fmt: skip
        pr = find_pull_request(branch)
        if pr is None:
            raise RuntimeError(f"the pull request for {branch} was not created")
    return pr


def comment_body(markdown: str, status_exit: int) -> str:
    """The status comment: marker, the status report, and a closing line."""
    footer = {
        READY: "### Signing event is ready\nEvery role is signed: review and merge.",
        WAITING: "Waiting for signatures or invitations.",
        INVALID: "The event is invalid: see the errors above.",
    }.get(status_exit, f"`tufrepo status` failed (exit {status_exit}); see the workflow run.")
    return f"{MARKER}\n{markdown.rstrip()}\n\n{footer}\n"


def upsert_comment(number: int, body: str) -> None:
    """Update our status comment, or create it the first time."""
    comments = gh_json("api", "--paginate", f"repos/{{owner}}/{{repo}}/issues/{number}/comments")
    ours = [c for c in comments or [] if str(c.get("body", "")).startswith(MARKER)]
    if ours:
        gh("api", "-X", "PATCH", f"repos/{{owner}}/{{repo}}/issues/comments/{ours[0]['id']}",
           "-F", "body=@-", stdin=body)  # fmt: skip
    else:
        gh("pr", "comment", str(number), "--body-file", "-", stdin=body)


def set_ready(pr: dict[str, Any], ready: bool) -> None:
    """Ready for review when the event is ready, draft otherwise (only when it changes)."""
    if ready and pr["isDraft"]:
        gh("pr", "ready", str(pr["number"]))
    elif not ready and not pr["isDraft"]:
        gh("pr", "ready", str(pr["number"]), "--undo")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branch", required=True)
    parser.add_argument("--status-exit", type=int, required=True)
    parser.add_argument("--markdown", type=Path, required=True)
    args = parser.parse_args(argv)
    markdown = args.markdown.read_text(encoding="utf-8") if args.markdown.exists() else ""
    pr = ensure_pull_request(args.branch)
    upsert_comment(pr["number"], comment_body(markdown, args.status_exit))
    set_ready(pr, args.status_exit == READY)
    return 0 if args.status_exit in (READY, WAITING, INVALID) else 1


if __name__ == "__main__":
    sys.exit(main())
