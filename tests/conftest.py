"""Test isolation and a small world of git repositories and users.

Every test runs with its own HOME, a hermetic git identity, no colours and a
fixed clock.  The :class:`World` fixture gives a bare ``origin`` (standing in
for GitHub), users with their own clones, settings files and file keys, and a
``ci`` clone where CI-side commands run.  Commands run in-process through
click's CliRunner with ``-C <clone>``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from securesystemslib.signer import CryptoSigner
from webserver import serve_directory

from tufrepo.cli import cli
from tufrepo.core import parsing

# Noon (UTC) today: a fixed point within a test run, and close enough to the real
# clock that tuf-js (which has no reference-time option) accepts fresh metadata.
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def iso(when: datetime) -> str:
    """TUF's expiry format."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def day(days: float) -> str:
    """NOW + days, as TUF writes it."""
    return iso(NOW + timedelta(days=days))


_ISOLATED_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "NO_COLOR": "1",
    "COLUMNS": "120",
    "TZ": "UTC",
}
_CLEARED_ENV = (
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITLAB_CI",
    "SIGSTORE_ID_TOKEN",
    "CRYPTO_SIGNER_PATH_PREFIX",
    "PYKCS11LIB",
    "TUFREPO_SIGSTORE_TRUST_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for key, value in _ISOLATED_ENV.items():
        monkeypatch.setenv(key, value)
    for key in _CLEARED_ENV:
        monkeypatch.delenv(key, raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return stdout (fails the test on error)."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def run(*args: str, now: datetime = NOW, input: str | None = None) -> Result:  # noqa: A002
    """Run the tufrepo CLI in-process (``input`` is piped to stdin)."""
    return CliRunner().invoke(
        cli, ["--now", now.isoformat(), *args], input=input, catch_exceptions=False
    )


@dataclass
class User:
    """A simulated signer: own clone, settings file and key."""

    name: str
    clone: Path
    key_path: Path
    world: World

    @property
    def key_uri(self) -> str:
        return f"file2:{self.key_path}"

    def tufrepo(self, *args: str, now: datetime | None = None, input: str | None = None) -> Result:  # noqa: A002
        return run("-C", str(self.clone), *args, now=now or self.world.now, input=input)

    def sign(self, event: str, *extra: str) -> Result:
        return self.tufrepo("sign", event, "--key", self.key_uri, *extra)

    def push_files(
        self, event: str, files: dict[str, str | bytes | None], *, start: str = "origin/main"
    ) -> None:
        """Start ``event`` from ``start`` with ``files`` changed, push it, and go back to main.

        ``files`` maps checkout paths to new content (None removes the file or
        directory): what a maintainer does by hand before CI runs update-targets.
        """
        git(self.clone, "fetch", "-q")
        git(self.clone, "switch", "-q", "-c", event, start)
        for path, content in files.items():
            target = self.clone / path
            if content is None:
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                target.write_text(content)
            else:
                target.write_bytes(content)
        git(self.clone, "add", "-A", "--", *files)
        git(self.clone, "commit", "-q", "-m", f"{event}: {', '.join(files)}")
        git(self.clone, "push", "-q", "origin", event)
        git(self.clone, "switch", "-q", "main")


@dataclass
class World:
    """origin (bare), users, a CI clone, an online key, and a clock."""

    root: Path
    now: datetime = NOW
    users: dict[str, User] = field(default_factory=dict)

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def ci(self) -> Path:
        return self.root / "ci"

    @property
    def online_uri(self) -> str:
        return f"file2:{self.root / 'keys' / 'online.pem'}"

    def user(self, name: str, *, handle: str | None = None) -> User:
        if name in self.users:
            return self.users[name]
        clone = self.root / name
        git(self.root, "clone", "-q", str(self.origin), str(clone))
        (clone / ".tuf-on-ci-sign.ini").write_text(
            f"[settings]\nuser-name = {handle or '@' + name}\npull-remote = origin\n"
            "push-remote = origin\n"
        )
        key_path = self.root / "keys" / f"{name}.pem"
        key_path.write_bytes(CryptoSigner.generate_ed25519().private_bytes)
        user = User(name, clone, key_path, self)
        self.users[name] = user
        return user

    def ci_run(self, *args: str, event: str | None = None, now: datetime | None = None) -> Result:
        """Run a CI-side command in the CI clone, checked out at ``event`` (or main)."""
        git(self.ci, "fetch", "-q", "--prune", "origin")
        branch = event or "main"
        git(self.ci, "checkout", "-q", "-B", branch, f"origin/{branch}")
        return run("-C", str(self.ci), *args, now=now or self.now)

    def status(self, event: str) -> tuple[int, dict[str, Any]]:
        result = self.ci_run("--json", "status", event=event)
        return result.exit_code, json.loads(result.stdout.splitlines()[0])

    def land(self, event: str, signer: User) -> None:
        """The whole honest path of an event: update-targets, signed, ready, merged, online-signed."""
        assert self.ci_run("update-targets", "--push", event=event).exit_code == 0
        assert signer.sign(event).exit_code == 0
        code, status = self.status(event)
        assert code == 0, status["findings"]
        self.merge(event)
        assert self.ci_run("online-sign", "--push").exit_code == 0

    def attacker(self) -> Path:
        """A clone of main, up to date, for someone with push rights on main and no keys."""
        path = self.root / "attacker"
        if not path.exists():
            git(self.root, "clone", "-q", str(self.origin), str(path))
        git(path, "fetch", "-q", "origin")
        git(path, "checkout", "-q", "-B", "main", "origin/main")
        return path

    def merge(self, event: str) -> None:
        """A maintainer merges the event's pull request into main."""
        git(self.ci, "fetch", "-q", "--prune", "origin")
        git(self.ci, "checkout", "-q", "-B", "main", "origin/main")
        git(self.ci, "merge", "-q", "--no-ff", "-m", f"Merge {event}", f"origin/{event}")
        git(self.ci, "push", "-q", "origin", "main")

    def tick(self, days: float) -> None:
        self.now += timedelta(days=days)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    root = tmp_path / "world"
    root.mkdir()
    (root / "keys").mkdir()
    (root / "keys" / "online.pem").write_bytes(CryptoSigner.generate_ed25519().private_bytes)
    git(root, "init", "-q", "--bare", "-b", "main", "origin.git")
    seed = root / "seed"
    git(root, "clone", "-q", str(root / "origin.git"), str(seed))
    (seed / "README.md").write_text("TUF repository\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-q", "-m", "Initial commit")
    git(seed, "push", "-q", "origin", "main")
    git(root, "clone", "-q", str(root / "origin.git"), str(root / "ci"))
    yield World(root)


def init_repo(world: World, user: User, *args: str, event: str = "sign/init") -> Result:
    """``user`` creates the repository on ``event`` with the world's online key."""
    return user.tufrepo(
        "init", event, "--online-key", world.online_uri, "--key", user.key_uri, *args
    )


def out(result: Result) -> str:
    """stdout and stderr together as a terminal would show them (click >= 8.2)."""
    return result.output


ServeDir = Callable[[Path], str]


@pytest.fixture
def serve_dir() -> Iterator[ServeDir]:
    """``serve_dir(site)`` -> base URL of ``site`` on 127.0.0.1, served until the test ends.

    One server per call (see ``tests/webserver.py``); every shutdown is instant.
    """
    with ExitStack() as stack:
        yield lambda site: stack.enter_context(serve_directory(site))


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every metadata file parsed (the CLI runs in-process: clear() first)."""
    paths: list[str] = []
    real = parsing.parse_metadata

    def counting(data: bytes, path: str, kind: Any) -> Any:
        paths.append(path)
        return real(data, path, kind)

    monkeypatch.setattr(parsing, "parse_metadata", counting)
    return paths
