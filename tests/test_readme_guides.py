"""The README's guides, run as written: three people and CI against a local origin.

Blocks of the README preceded by ``<!-- run: NAME -->`` are shell commands a
person or CI runs; ``<!-- file: NAME -->`` marks a file's content.  This test
extracts them, substitutes what a real setup would have (the origin's URL,
the published site's URL, each person's handle and key, the event at hand)
and runs every command with the installed ``tufrepo``/``repo-sign`` in a
subprocess:

* Alice, Bob and Carol clone the origin and write their settings file;
* Alice creates the repository (``maintainer-init``); whoever the status
  report says is still owed runs the signer's command (``signer-sign``)
  until the event is ready; it is merged; CI online-signs and publishes;
* Alice adds an artifact with plain git (``maintainer-artifact``); CI runs
  update-targets and status (``ci-event``); the owed signer signs; merged;
  CI online-signs, publishes and runs its scheduled jobs (``ci-schedule``);
* the published site passes ``tufrepo test-client`` from the first root.

Every command must succeed (``status`` may also say "waiting", exit 3).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ServeDir, World, git
from securesystemslib.signer import CryptoSigner

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent
MARKER = re.compile(
    r"^[ \t]*<!-- (run|file): ([\w-]+) -->[ \t]*\n[ \t]*```(\w+)\n(.*?)^[ \t]*```",
    re.MULTILINE | re.DOTALL,
)
PEOPLE = ("alice", "bob", "carol")
EXAMPLE_URL = "https://example.github.io/repo/metadata"


def guide_blocks(text: str) -> dict[str, tuple[str, str]]:
    """NAME -> (kind, dedented content) of every marked block."""
    blocks: dict[str, tuple[str, str]] = {}
    for kind, name, _lang, body in MARKER.findall(text):
        assert name not in blocks, f"two README blocks are marked {name}"
        blocks[name] = (kind, textwrap.dedent(body))
    return blocks


def commands(script: str) -> list[str]:
    """The commands of a block: continuation lines joined, comment-only lines left out."""
    joined = re.sub(r"\\\n\s*", " ", script)
    return [
        line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_guides_mark_their_blocks() -> None:
    blocks = guide_blocks(README.read_text(encoding="utf-8"))
    assert set(blocks) >= {
        "signer-clone", "signer-settings", "signer-sign", "maintainer-init",
        "maintainer-artifact", "ci-event", "ci-main", "ci-schedule",
    }  # fmt: skip
    assert blocks["signer-settings"][0] == "file"
    # the extraction sees the README as a reader does: nothing outside a block
    assert "repo-sign sign/<event>" in blocks["signer-sign"][1]
    assert commands("a \\\n  b # c\n   # only a comment\n\nd\n") == ["a  b # c", "d"]


@dataclass
class Person:
    name: str
    home: Path
    key: Path

    @property
    def clone(self) -> Path:
        return self.home / "tuf-repo"

    @property
    def handle(self) -> str:
        return f"@{self.name}"


class Guides:
    """Runs the README's blocks as people and CI would."""

    def __init__(self, world: World, url: str, tmp: Path) -> None:
        self.world = world
        self.url = url
        self.blocks = guide_blocks(README.read_text(encoding="utf-8"))
        self.people: dict[str, Person] = {}
        for name in PEOPLE:
            home = tmp / "people" / name
            (home / "keys").mkdir(parents=True)
            key = home / "keys" / f"{name}.pem"
            key.write_bytes(CryptoSigner.generate_ed25519().private_bytes)
            self.people[name] = Person(name, home, key)
        # Alice enrols the online key (file2:online.pem in the guide); CI signs with it.
        online = (world.root / "keys" / "online.pem").read_bytes()
        (self.people["alice"].home / "keys" / "online.pem").write_bytes(online)
        self.ci_keys = tmp / "ci-keys"
        self.ci_keys.mkdir()
        (self.ci_keys / "online.pem").write_bytes(online)

    def substitute(self, text: str, person: Person | None, event: str = "") -> str:
        text = text.replace("https://github.com/<owner>/<tuf-repo>.git", str(self.world.origin))
        text = text.replace(EXAMPLE_URL, self.url)
        text = text.replace("sign/<event>", event)
        if person is not None:
            text = text.replace("@your-github-handle", person.handle)
            text = text.replace("/path/to/your-key.pem", str(person.key))
        live = [ln for ln in text.splitlines() if not ln.lstrip().startswith((";", "#"))]
        assert not any("<" in ln for ln in live), f"a placeholder is left: {text}"
        return text

    def run(self, name: str, cwd: Path, person: Person | None, event: str = "") -> list[int]:
        kind, body = self.blocks[name]
        assert kind == "run", name
        codes = []
        for command in commands(self.substitute(body, person, event)):
            env = {
                **os.environ,
                "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                "CRYPTO_SIGNER_PATH_PREFIX": str(person.home / "keys" if person else self.ci_keys),
            }
            done = subprocess.run(["bash", "-e", "-c", command], cwd=cwd, env=env,
                                  capture_output=True, text=True, check=False)  # fmt: skip
            allowed = (0, 3) if shlex.split(command)[:2] == ["tufrepo", "status"] else (0,)
            assert done.returncode in allowed, (name, person and person.name, command,
                                                done.stdout, done.stderr)  # fmt: skip
            codes.append(done.returncode)
        return codes

    def enrol(self, person: Person) -> None:
        self.run("signer-clone", person.home, person)
        _, settings = self.blocks["signer-settings"]
        (person.clone / ".tuf-on-ci-sign.ini").write_text(self.substitute(settings, person))

    def ci_checkout(self, branch: str) -> None:
        git(self.world.ci, "fetch", "-q", "--prune", "origin")
        git(self.world.ci, "checkout", "-q", "-B", branch, f"origin/{branch}")

    def owed(self, event: str) -> tuple[str, list[str]]:
        self.ci_checkout(event)
        done = subprocess.run([str(BIN / "tufrepo"), "--json", "status"], cwd=self.world.ci,
                              capture_output=True, text=True, check=False)  # fmt: skip
        result = json.loads(done.stdout)
        return result["state"], result["owed"]

    def sign_until_ready(self, event: str) -> list[str]:
        """Whoever the status report owes runs the signer's block, until the event is ready."""
        signed: list[str] = []
        for _ in range(8):
            self.ci_checkout(event)
            self.run("ci-event", self.world.ci, None)
            state, owed = self.owed(event)
            if state == "ready":
                return signed
            assert state == "waiting", (state, owed)
            assert owed, "a waiting event names who it waits for"
            person = self.people[owed[0].removeprefix("@")]
            self.run("signer-sign", person.clone, person, event)
            signed.append(person.name)
        pytest.fail(f"{event} never became ready (signed by {signed})")

    def merge(self, event: str) -> None:
        """What the maintainer's "merge the pull request" does."""
        self.ci_checkout("main")
        git(self.world.ci, "merge", "-q", "--no-ff", "-m", f"Merge {event}", f"origin/{event}")
        git(self.world.ci, "push", "-q", "origin", "main")


def test_readme_guides_run_as_written(world: World, serve_dir: ServeDir, tmp_path: Path) -> None:
    site = world.ci / "build"  # `tufrepo publish build/` in the CI guide
    url = serve_dir(world.ci) + "/build/metadata"
    guides = Guides(world, url, tmp_path)
    alice, bob, carol = (guides.people[n] for n in PEOPLE)
    for person in (alice, bob, carol):
        guides.enrol(person)

    guides.run("maintainer-init", alice.clone, alice)
    signed = guides.sign_until_ready("sign/init")
    assert {"bob", "carol"} <= set(signed), "the invited signers accepted by signing"
    guides.merge("sign/init")
    guides.ci_checkout("main")
    guides.run("ci-main", world.ci, None)
    assert (site / "metadata" / "1.root.json").is_file()

    guides.run("maintainer-artifact", alice.clone, alice)
    assert guides.sign_until_ready("sign/add-app")
    guides.merge("sign/add-app")
    guides.ci_checkout("main")
    guides.run("ci-main", world.ci, None)
    guides.run("ci-schedule", world.ci, None)

    done = subprocess.run(
        [str(BIN / "tufrepo"), "test-client", url, "--root",
         str(world.ci / "metadata" / "root_history" / "1.root.json"),
         "--target", "app/1.0.json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert list((site / "targets" / "app").glob("*.1.0.json"))


def test_readme_and_docs_point_only_inside_the_repository() -> None:
    """Template users have the repository and the web, nothing beside it (no ../shared)."""
    root = README.parent
    pages = [README, *sorted((root / "docs").glob("*.md"))]
    assert len(pages) >= 3, "docs/cli.md and docs/format.md"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page.name
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            assert path.is_relative_to(root), (page.name, target)
            assert path.exists(), (page.name, target)
