"""The pull-request link printed after a push to a fork (issue #13 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tufrepo.gitrepo import _repository_key
from tufrepo.ops.forge import parse_remote, review_link

UPSTREAM = "https://github.com/org/tuf-repo.git"


@pytest.mark.parametrize(
    "fork",
    [
        "https://github.com/alice/tuf-repo.git",
        "https://alice:ghp_secret@github.com/alice/tuf-repo",
        "git@github.com:alice/tuf-repo.git",
        "ssh://git@github.com/alice/tuf-repo.git",
    ],
    ids=["https", "https-with-token", "scp", "ssh"],
)
def test_github_fork_gets_a_compare_url_on_upstream(fork: str) -> None:
    link = review_link(UPSTREAM, fork, "sign/add-release")
    assert link is not None
    assert link.url == "https://github.com/org/tuf-repo/compare/main...alice:sign/add-release"
    assert link.kind == "pull request"
    assert "secret" not in link.url


def test_a_fork_with_another_name_is_named_in_the_compare_url() -> None:
    link = review_link(UPSTREAM, "git@github.com:alice/my-tuf.git", "sign/x")
    assert link is not None
    assert link.url == "https://github.com/org/tuf-repo/compare/main...alice:my-tuf:sign/x"


def test_url_special_characters_in_the_branch_are_escaped() -> None:
    link = review_link(UPSTREAM, "git@github.com:alice/tuf-repo.git", "sign/a#b?c")
    assert link is not None
    assert link.url.endswith("...alice:sign/a%23b%3Fc")


def test_gitlab_fork_gets_a_new_merge_request_url_on_the_fork() -> None:
    link = review_link(
        "https://gitlab.example.com/group/sub/tuf.git",
        "git@gitlab.example.com:alice/tuf.git",
        "sign/x",
    )
    assert link is not None
    assert link.kind == "merge request"
    assert link.url == (
        "https://gitlab.example.com/alice/tuf/-/merge_requests/new?"
        "merge_request%5Bsource_branch%5D=sign%2Fx&merge_request%5Btarget_branch%5D=main"
    )


@pytest.mark.parametrize(
    ("upstream", "fork"),
    [
        (UPSTREAM, UPSTREAM),  # not a fork
        (UPSTREAM, "git@github.com:ORG/tuf-repo.git"),  # the same repository, other spelling
        (UPSTREAM, "https://gitlab.com/alice/tuf-repo.git"),  # another host
        ("https://git.example.com/org/tuf.git", "https://git.example.com/alice/tuf.git"),
        ("/srv/git/origin.git", "/srv/git/fork.git"),  # local paths
        (UPSTREAM, None),
        (UPSTREAM, "https://github.com/alice/../org/tuf-repo"),  # path tricks are no project
        (UPSTREAM, "https://github.com/alice"),
    ],
    ids=["same", "same-other-case", "other-host", "unknown-forge", "local", "no-url",
         "dot-dot", "no-repo"],
)  # fmt: skip
def test_no_link_where_there_is_no_fork_on_a_known_forge(upstream: str, fork: str | None) -> None:
    assert review_link(upstream, fork, "sign/x") is None


def test_parse_remote_keeps_gitlab_subgroups() -> None:
    project = parse_remote("https://gitlab.com/group/sub/project.git")
    assert project is not None
    assert (project.host, project.path, project.owner) == (
        "gitlab.com",
        "group/sub/project",
        "group",
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("git@github.com:Org/Repo.git", "https://github.com/org/repo", True),
        ("https://user:token@github.com:443/org/repo.git/", "ssh://git@github.com/org/repo", True),
        ("git@github.com:alice/repo.git", "https://github.com/org/repo.git", False),
        ("https://gitlab.example.com/g/sub/p.git", "git@gitlab.example.com:g/sub/p", True),
        ("https://github.com/org/repo", "https://gitlab.com/org/repo", False),
    ],
)
def test_one_repository_has_one_key_whatever_the_spelling(a: str, b: str, same: bool) -> None:
    assert (_repository_key(a, Path("/")) == _repository_key(b, Path("/"))) is same


def test_local_spellings_resolve_to_one_path(tmp_path: Path) -> None:
    (tmp_path / "origin.git").mkdir()
    keys = {
        _repository_key(url, tmp_path)
        for url in (str(tmp_path / "origin.git"), f"file://{tmp_path}/origin.git", "origin.git/")
    }
    assert len(keys) == 1
