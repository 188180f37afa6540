"""Keep a signing event's change request in step with `tufrepo status` (either forge).

* open a draft pull request (GitHub) or merge request (GitLab) for the event
  branch if there is none;
* keep one current status comment (found by a marker), updated in place while
  nobody new is asked to act;
* when someone is asked to sign or accept an invitation who was not asked in
  the current comment (a new signer, or a signer whose signature a later push
  invalidated), post a new comment instead, so that its @mentions notify
  them (editing a comment notifies nobody), and shorten the old one to a
  pointer;
* mark the change request ready when status exited 0, draft otherwise.

    python .github/scripts/event_pr.py --branch sign/x --status-exit 3 --markdown status.md

Exit 1 when status itself failed (exit codes other than 0, 3, 4), after
commenting, so the run shows the failure.
"""

from __future__ import annotations

import argparse
import re
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


SUPERSEDED = "<!-- tufrepo-status-superseded -->"
REPORT = re.compile(r"^<!-- tufrepo-status-report state=(\S*) owed=(\S*) -->$", re.MULTILINE)


def owed(body: str) -> set[str]:
    """The handles a status comment (or `tufrepo status` report) asks to act."""
    match = REPORT.search(body)
    return {h for h in match.group(2).split(",") if h} if match else set()


def comment_body(markdown: str, status_exit: int) -> str:
    """The status comment: marker and the status report.

    The report ends with its own verdict line; a closing line is added only
    when there is no report to speak for itself (status crashed, or an old
    tufrepo wrote it).
    """
    body = f"{MARKER}\n{markdown.rstrip()}\n"
    if REPORT.search(markdown):
        return body
    footer = {
        READY: "### Signing event is ready\nEvery role is signed: review and merge.",
        WAITING: "Waiting for signatures or invitations.",
        INVALID: "The event is invalid: see the errors above.",
    }.get(status_exit, f"`tufrepo status` failed (exit {status_exit}); see the CI run.")
    return f"{body}\n{footer}\n"


def upsert_comment(hub: Forge, request: ChangeRequest, body: str) -> None:
    """Update our status comment, or post a new one when it asks someone new to act.

    A comment is new the first time, and whenever the report owes a signature
    or an invitation to someone the current comment did not ask (their
    earlier signature no longer counts, or they were just invited): only a
    new comment notifies its @mentions.  The old comment then points to it.
    """
    ours = [c for c in hub.comments(request) if c.body.startswith(MARKER)]
    current = ours[-1] if ours else None
    if current is not None and not owed(body) - owed(current.body):
        hub.edit_comment(request, current, body)
        return
    hub.add_comment(request, body)
    if current is not None:
        hub.edit_comment(
            request,
            current,
            f"{SUPERSEDED}\nThis status is out of date: see the newer status comment below.\n",
        )


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
