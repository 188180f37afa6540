"""The real-world corpus: real tuf-on-ci signing events must come out ready (issue #11).

Each fixture under ``tests/realworld/fixtures/`` holds the metadata (and artifacts) of a
public tuf-on-ci repository at a signing event that was merged into its ``main``: the
known good state and the event head, with the merge time.  They were merged and served to
real clients, so ``tufrepo status`` at the merge time must say "Ready".  The ``*-head``
fixtures are the head of ``main`` of those repositories: ``verify``, ``publish`` and a
TUF client refreshing the published result must all succeed.  Rebuild the fixtures with
``tests/realworld/build_corpus.py``; ``case.json`` says where each came from and which
classes of behaviour it covers.

No test here may reach the network: none of these repositories uses Sigstore keys, so no
Sigstore trust root is needed, and any connection to a non-loopback address fails.
"""

from __future__ import annotations

import json
import shutil
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import git, out, run
from webserver import serve_directory

FIXTURES = Path(__file__).parent / "realworld" / "fixtures"
EVENTS = sorted(p.parent for p in FIXTURES.glob("*/case.json") if (p.parent / "event").is_dir())
HEADS = sorted(p.parent for p in FIXTURES.glob("*/case.json") if (p.parent / "metadata").is_dir())
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def load_case(case_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((case_dir / "case.json").read_text())
    return data


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection or name lookup beyond loopback (e.g. production Sigstore)."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in _LOOPBACK:
            raise OSError(f"the real-world corpus must not reach the network: {address}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in _LOOPBACK and host is not None:
            raise OSError(f"the real-world corpus must not resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def commit_tree(clone: Path, source: Path, message: str) -> None:
    """Make the clone's metadata/, targets/ (and .github/) exactly ``source``'s; commit."""
    git(clone, "rm", "-r", "-q", "--ignore-unmatch", "metadata", "targets", ".github")
    for top in ("metadata", "targets", ".github"):
        shutil.rmtree(clone / top, ignore_errors=True)
        if (source / top).is_dir():
            shutil.copytree(source / top, clone / top)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "--allow-empty", "-m", message)


def origin_with(tmp_path: Path, main: Path, main_message: str) -> tuple[Path, Path]:
    """A bare origin whose main is ``main``'s tree; returns (origin, seed clone)."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(origin), str(seed))
    git(seed, "switch", "-q", "-c", "main")
    commit_tree(seed, main, main_message)
    git(seed, "push", "-q", "origin", "main")
    return origin, seed


def event_checkout(tmp_path: Path, case_dir: Path, case: dict[str, Any]) -> Path:
    """origin: main = known good, the event branch = event head on top; a CI clone on it."""
    event = case["event"]
    origin, seed = origin_with(
        tmp_path, case_dir / "known_good", f"{case['repo']} {case['known_good_commit']}"
    )
    git(seed, "switch", "-q", "-c", event)
    commit_tree(seed, case_dir / "event", f"{case['repo']} {case['event_commit']}")
    git(seed, "push", "-q", "origin", event)
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(origin), str(ci))
    git(ci, "switch", "-q", "-c", event, f"origin/{event}")
    return ci


@pytest.mark.parametrize("case_dir", EVENTS, ids=lambda p: p.name)
def test_real_signing_event_is_ready_at_merge_time(tmp_path: Path, case_dir: Path) -> None:
    case = load_case(case_dir)
    assert case["expected"] == "ready"
    ci = event_checkout(tmp_path, case_dir, case)
    result = run("-C", str(ci), "status", now=datetime.fromisoformat(case["merge_time"]))
    text = out(result)
    assert result.exit_code == 0, f"{case['event']} ({', '.join(case['covers'])}):\n{text}"
    assert "Ready" in text, text


@pytest.mark.parametrize("case_dir", HEADS, ids=lambda p: p.name)
def test_real_main_verifies_and_publishes(tmp_path: Path, case_dir: Path) -> None:
    case = load_case(case_dir)
    now = datetime.fromisoformat(case["commit_time"])
    origin, _ = origin_with(tmp_path, case_dir, f"{case['repo']} {case['commit']}")
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(origin), str(ci))

    failures = []
    verified = run("-C", str(ci), "verify", "--main", now=now)
    if verified.exit_code != 0:
        failures.append(f"verify --main: exit {verified.exit_code}\n{out(verified)}")

    site = tmp_path / "site"
    published = run("-C", str(ci), "publish", str(site), now=now)
    if published.exit_code != 0:
        failures.append(f"publish: exit {published.exit_code}\n{out(published)}")
    else:
        # A TUF client refreshes the published repository from the first root it can
        # start from (sigstore's clients start root-signing from 5.root.json for the same
        # reason) and downloads every artifact of the top-level targets role.
        root = case_dir / "metadata" / "root_history" / f"{case['client_root']}.root.json"
        targets = json.loads((case_dir / "metadata" / "targets.json").read_text())
        checks = [a for path in sorted(targets["signed"]["targets"]) for a in ("--target", path)]
        with serve_directory(site) as url:
            client = run("test-client", f"{url}/metadata", "--root", str(root), *checks, now=now)
        if client.exit_code != 0:
            failures.append(f"test-client: exit {client.exit_code}\n{out(client)}")
    assert not failures, "\n".join(failures)
