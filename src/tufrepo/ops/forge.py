"""Where a signer opens the pull request for an event pushed to their fork.

A signer without push rights pushes the event to a fork (``push-remote`` in
the settings differs from ``pull-remote``); the maintainers still need a pull
request on the upstream repository.  :func:`review_link` turns the two
remotes' URLs into the page that opens it::

    review_link("git@github.com:org/tuf.git", "https://github.com/alice/tuf", "sign/x")
    # ReviewLink(url="https://github.com/org/tuf/compare/main...alice:sign/x", ...)

GitHub (github.com) gets a compare URL on the upstream repository, GitLab (a
host with ``gitlab`` in its name) a new-merge-request URL on the fork; any
other host gets nothing.  Credentials in a URL never reach the link.

Not for: git (URLs come in), calling any forge's API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from tufrepo.core.constants import MAIN_BRANCH

GITHUB_HOST = "github.com"

# https://[user[:token]@]host[:port]/path, ssh://[user@]host[:port]/path, user@host:path (scp-like)
_URL = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/\s]+@)?(?P<host>[^/:\s]+)(?::\d+)?/(?P<path>\S+)"
    r"|(?:[^@/\s]+@)?(?P<scp_host>[^/:\s]+):(?P<scp_path>(?!/)\S+))$"
)
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Project:
    """A repository on a forge: its host and path (``owner/name``, GitLab subgroups kept)."""

    host: str
    path: str

    @property
    def owner(self) -> str:
        """The first path segment: user or organisation (GitLab: the top-level group)."""
        return self.path.split("/", 1)[0]


@dataclass(frozen=True)
class ReviewLink:
    """The page that proposes an event upstream, and what the forge calls it."""

    url: str
    kind: str  # "pull request" or "merge request"


def parse_remote(url: str | None) -> Project | None:
    """The host and project path of a git remote URL, or None when it is not a forge URL."""
    match = _URL.match((url or "").strip())
    if not match:
        return None
    host = (match["host"] or match["scp_host"]).lower()
    path = (match["path"] or match["scp_path"]).strip("/").removesuffix(".git").strip("/")
    segments = path.split("/")
    if len(segments) < 2 or not all(_SEGMENT.match(s) and s not in (".", "..") for s in segments):
        return None
    return Project(host, path)


def _is_gitlab(host: str) -> bool:
    return any("gitlab" in label for label in host.split("."))


def review_link(
    upstream_url: str | None, fork_url: str | None, branch: str, *, base: str = MAIN_BRANCH
) -> ReviewLink | None:
    """The page opening a pull (merge) request of ``branch`` from the fork into upstream's ``base``.

    Returns:
        None when the remotes are one repository, on different hosts, or on a
        host that is neither github.com nor a GitLab.
    """
    upstream, fork = parse_remote(upstream_url), parse_remote(fork_url)
    if upstream is None or fork is None or upstream.host != fork.host:
        return None
    if upstream.path.lower() == fork.path.lower():
        return None
    if upstream.host == GITHUB_HOST:
        # A fork named differently from upstream is named too (owner:repo:branch).
        fork_name, upstream_name = fork.path.split("/")[1], upstream.path.split("/")[1]
        owner = fork.owner if fork_name == upstream_name else f"{fork.owner}:{fork_name}"
        head = f"{owner}:{quote(branch, safe='/')}"
        return ReviewLink(
            f"https://{GITHUB_HOST}/{upstream.path}/compare/{quote(base, safe='/')}...{head}",
            "pull request",
        )
    if _is_gitlab(upstream.host):
        query = (
            f"merge_request%5Bsource_branch%5D={quote(branch, safe='')}"
            f"&merge_request%5Btarget_branch%5D={quote(base, safe='')}"
        )
        return ReviewLink(
            f"https://{fork.host}/{fork.path}/-/merge_requests/new?{query}", "merge request"
        )
    return None


__all__ = ["Project", "ReviewLink", "parse_remote", "review_link"]
