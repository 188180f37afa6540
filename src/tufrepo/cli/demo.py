"""`tufrepo demo`: the whole life cycle on an embedded default, offline, in seconds.

It plays every part itself: a bare git repository stands in for GitHub, two
maintainers and a CI runner have their own clones, keys are generated on the
spot, and a web server on 127.0.0.1 serves the published repository to a TUF
client.  Each step prints the command a person or a workflow would type.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tufrepo.cli.app import App, pass_app
from tufrepo.errors import DemoError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tufrepo.gitrepo import GitRepo

_GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "tufrepo demo",
    "GIT_AUTHOR_EMAIL": "demo@example.invalid",
    "GIT_COMMITTER_NAME": "tufrepo demo",
    "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    "GIT_TERMINAL_PROMPT": "0",
}


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[str]:
    # http.server loads only for the demo: `tufrepo --help` imports this module (#14)
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class _QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Demo:
    def __init__(self, app: App, base: Path) -> None:
        self.app = app
        self.base = base
        self.step_no = 0

    def step(self, text: str) -> None:
        self.step_no += 1
        self.app.say("")
        self.app.say(f"== {self.step_no}. {text}", bold=True)

    @contextlib.contextmanager
    def clone(self, who: str) -> Iterator[GitRepo]:
        """The git checkout of ``who`` (alice, bob, ci), open for the block."""
        from tufrepo.gitrepo import GitRepo

        with GitRepo(self.base / who) as repo:
            yield repo

    def tufrepo(self, who: str, *args: str, expect: int = 0) -> None:
        from tufrepo.cli import cli

        shown = " ".join(a if " " not in a else repr(a) for a in args)
        prog = "repo-sign" if args and args[0] == "sign" else "tufrepo"
        shown = shown.removeprefix("sign ") if prog == "repo-sign" else shown
        self.app.say(f"[{who}] $ {prog} {shown}", fg="cyan")
        code = cli.main(
            args=["-C", str(self.base / who), *args], prog_name="tufrepo", standalone_mode=False
        )
        code = int(code or 0)
        if code != expect:
            raise DemoError(f"`{prog} {shown}` exited {code}, expected {expect}")

    def user(self, name: str) -> None:
        from securesystemslib.signer import CryptoSigner

        from tufrepo.gitrepo import GitRepo

        clone = self.base / name
        GitRepo.clone(str(self.base / "origin.git"), clone).close()
        (clone / ".tuf-on-ci-sign.ini").write_text(f"[settings]\nuser-name = @{name}\n")
        (self.base / "keys" / f"{name}.pem").write_bytes(
            CryptoSigner.generate_ed25519().private_bytes
        )

    def ci_checkout(self, branch: str) -> None:
        with self.clone("ci") as ci:
            ci.fetch("origin")
            ci.checkout_branch(branch, f"origin/{branch}")

    def merge(self, event: str) -> None:
        self.ci_checkout("main")
        self.app.say(f"[maintainer] merges the pull request of {event}", fg="cyan")
        with self.clone("ci") as ci:
            ci.merge(f"origin/{event}", f"Merge {event}")
            self.push(ci, "main")

    @staticmethod
    def push(repo: GitRepo, branch: str) -> None:
        head = repo.head()
        if head is None:
            raise DemoError(f"nothing to push on {branch}")
        repo.push("origin", head, branch)

    def run(self) -> None:
        from securesystemslib.signer import CryptoSigner

        from tufrepo.gitrepo import GitRepo

        app, base = self.app, self.base
        (base / "keys").mkdir(parents=True)
        self.step("A bare git repository stands in for GitHub; alice, bob and CI clone it")
        GitRepo.init_bare(base / "origin.git", branch="main")
        with GitRepo.clone(str(base / "origin.git"), base / "ci") as ci:
            (base / "ci" / "README.md").write_text("A TUF repository managed by tufrepo\n")
            ci.commit_worktree(["README.md"], "Initial commit")
            self.push(ci, "main")
        self.user("alice")
        self.user("bob")
        (base / "keys" / "online.pem").write_bytes(CryptoSigner.generate_ed25519().private_bytes)
        app.say(f"Keys (ed25519, file2: URIs relative to {base / 'keys'}): alice, bob, online")

        self.step("alice creates the repository: root needs alice AND bob, bob is invited")
        self.tufrepo(
            "alice", "init", "sign/init", "--signer", "root=@alice", "--signer", "root=@bob",
            "--threshold", "root=2", "--online-key", "file2:online.pem", "--key", "file2:alice.pem",
        )  # fmt: skip
        self.step("CI reports the event's status on its pull request: waiting")
        self.ci_checkout("sign/init")
        self.tufrepo("ci", "status", expect=3)
        self.step(
            "bob accepts the invitation with his key; his key changes root, so alice signs again"
        )
        self.tufrepo("bob", "sign", "sign/init", "--key", "file2:bob.pem")
        self.tufrepo("alice", "sign", "sign/init", "--key", "file2:alice.pem")
        self.ci_checkout("sign/init")
        self.tufrepo("ci", "status")
        self.step("The maintainer merges; CI online-signs snapshot and timestamp and publishes")
        self.merge("sign/init")
        self.tufrepo("ci", "online-sign", "--push")
        self.tufrepo("ci", "verify")
        site = base / "site"
        self.tufrepo("ci", "publish", str(site))
        with _serve(site) as url:
            self.step(f"A TUF client refreshes the published repository at {url}")
            self.tufrepo("ci", "test-client", f"{url}/metadata", "--valid-days", "1")

            self.release(url, site)

    def release(self, url: str, site: Path) -> None:
        base = self.base
        self.step("A release: alice adds an artifact on a signing event with plain git")
        alice = base / "alice"
        with self.clone("alice") as repo:
            repo.fetch("origin")
            repo.checkout_branch("sign/release-1.0", "origin/main")
            (alice / "targets" / "app").mkdir(parents=True)
            (alice / "targets" / "app" / "v1.0.json").write_text(
                '{"image": "example/app@sha256:0000", "version": "1.0"}\n'
            )
            repo.commit_worktree(["targets"], "Release app 1.0")
            self.push(repo, "sign/release-1.0")
            repo.switch("main")
        self.ci_checkout("sign/release-1.0")
        self.tufrepo("ci", "update-targets", "--push")
        self.tufrepo("ci", "status", expect=3)
        self.tufrepo("alice", "sign", "sign/release-1.0", "--key", "file2:alice.pem")
        self.ci_checkout("sign/release-1.0")
        self.tufrepo("ci", "status")
        self.merge("sign/release-1.0")
        self.tufrepo("ci", "online-sign", "--push")
        self.tufrepo("ci", "publish", str(site))
        self.step("Consumers download the release through TUF, verified")
        self.tufrepo(
            "ci", "test-client", f"{url}/metadata", "--root", str(site / "metadata" / "1.root.json"),
            "--target", "app/v1.0.json",
        )  # fmt: skip
        self.tufrepo(
            "ci", "download", "app/v1.0.json", "--metadata-url", f"{url}/metadata",
            "--root", str(site / "metadata" / "1.root.json"),
        )  # fmt: skip


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Work in this (new or empty) directory and keep it afterwards.",
)
@pass_app
def demo_command(app: App, directory: Path | None) -> None:
    """Run the whole life cycle locally and offline, in a few seconds.

    Two maintainers and a CI runner, a bare git repository as "GitHub",
    generated keys, root threshold 2: init, invitations, signing, status,
    merge, online signing, publishing, a TUF client refreshing from a web
    server on 127.0.0.1, then a release that is signed, published and
    downloaded. Nothing leaves this machine.
    """
    keep = directory is not None
    base = directory or Path(tempfile.mkdtemp(prefix="tufrepo-demo-"))
    if keep and base.exists() and any(base.iterdir()):
        raise UsageError(f"{base} is not empty", hint="give --dir a new or empty directory")
    base.mkdir(parents=True, exist_ok=True)
    env = {**_GIT_ENV, "CRYPTO_SIGNER_PATH_PREFIX": str(base / "keys")}
    try:
        with _environment(env):
            _Demo(app, base).run()
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    app.say("")
    app.say("Demo finished: the TUF client accepted both releases of the repository.", bold=True)
    if keep:
        app.say(f"Everything is kept in {base}")
