"""GitLab: the `.gitlab-ci.yml` template, run locally, and the GitLab side of the forge glue.

* the template validates against GitLab's CI JSON schema (the copy gitlab-ci-local
  bundles) and its rules create the right jobs for each kind of pipeline;
* the jobs run with gitlab-ci-local (shell executor) in a clone of a local bare
  origin, with a recording stand-in for GitLab's REST API (tests/fake_gitlab.py):
  the signing-event job opens one draft merge request, keeps one status note and
  marks the merge request ready once the event is signed; online-sign and pages
  on main produce a site both TUF clients accept; the README's setup guide, run
  as written, with online-sign signing through the pipeline's Sigstore identity
  (the fake Sigstore certifying a GitLab pipeline identity); the bump-expiring
  schedule with its failure report opened and closed;
* the glue (.github/scripts) against the stand-in: failure issues, pipelines for
  new events, paging;
* `--online-key sigstore` derives the GitLab pipeline identity from the remote;
* tufrepo.ci_output writes dotenv reports, and every command's result reaches them
  (and $GITHUB_OUTPUT) through App.result.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import World, git, init_repo, run
from fake_gitlab import TOKEN, FakeGitLab
from fake_sigstore import GOOGLE_ISSUER, FakeSigstore, mint_token
from tufjs import check_site_with_both_clients
from webserver import serve_directory

from tufrepo import ci_output
from tufrepo.cli.commands import COMMANDS
from tufrepo.signers import sigstore

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / ".gitlab-ci.yml"
SCRIPTS = ROOT / ".github" / "scripts"
GCL = ROOT / "tests" / "js" / "node_modules" / "gitlab-ci-local" / "dist" / "index.js"
PROJECT = "tuf/repo"
RSYNC = Path(__file__).parent / "gcl_rsync.py"


def gitlab_ci_local() -> list[str]:
    node = shutil.which("node")
    if node is None or not GCL.exists():
        pytest.fail(
            "gitlab-ci-local is required: install Node.js and run `npm ci --prefix tests/js`"
        )
    return [node, str(GCL)]


def gcl(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run gitlab-ci-local in ``cwd`` (no colour, the template's schema checked)."""
    return subprocess.run([*gitlab_ci_local(), "--no-color", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=120,
                          env=env or dict(os.environ))  # fmt: skip


# --- the template: schema and rules ------------------------------------------------------


def _project(tmp: Path, *, initialised: bool = True, branch: str = "main") -> Path:
    """A checkout holding only the template (and a root.json when ``initialised``)."""
    work = tmp / "project"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "gcl-origin", f"https://gitlab.example.com/{PROJECT}.git")
    shutil.copy(TEMPLATE, work / ".gitlab-ci.yml")
    if initialised:
        (work / "metadata").mkdir()
        (work / "metadata" / "root.json").write_text("{}")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "template")
    if branch != "main":
        git(work, "switch", "-q", "-c", branch)
    return work


def listed_jobs(work: Path, *variables: str) -> list[str]:
    args = [a for v in variables for a in ("--variable", v)]
    done = gcl(work, "--list-json", "--no-json-schema-validation",  # its own test checks it
               "--ignore-predefined-vars", "CI_PIPELINE_SOURCE", *args)  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = done.stdout[done.stdout.index("[") :]  # after any warnings
    return [job["name"] for job in json.loads(document) if job.get("when") != "never"]


def test_the_template_is_valid_for_gitlabs_schema(tmp_path: Path) -> None:
    work = _project(tmp_path)
    done = gcl(work, "--list")
    assert done.returncode == 0, done.stderr
    assert "json schema validated" in done.stderr

    text = TEMPLATE.read_text()
    assert "      aud: sigstore\n" in text
    (work / ".gitlab-ci.yml").write_text(
        text.replace("      aud: sigstore\n", "      audience: sigstore\n")
    )
    done = gcl(work, "--list")
    assert done.returncode != 0, "the schema check can fail"
    assert "id_tokens" in done.stdout + done.stderr


def test_the_rules_pick_the_jobs_of_each_pipeline(tmp_path: Path) -> None:
    main = _project(tmp_path)
    assert listed_jobs(main) == [
        "online-sign", "pages", "test-client", "report-failure", "report-success"
    ]  # fmt: skip
    schedule = "CI_PIPELINE_SOURCE=schedule"
    assert listed_jobs(main, schedule) == [
        "bump-expiring", "online-sign", "pages", "test-client", "report-failure", "report-success"
    ]  # fmt: skip
    assert listed_jobs(main, schedule, "TUFREPO_SCHEDULE=bump-expiring") == [
        "bump-expiring", "report-failure", "report-success"
    ]  # fmt: skip
    assert listed_jobs(main, schedule, "TUFREPO_SCHEDULE=test-client") == [
        "test-client", "report-failure", "report-success"
    ]  # fmt: skip
    git(main, "switch", "-q", "-c", "sign/x")
    assert listed_jobs(main) == ["signing-event"]
    git(main, "switch", "-q", "-c", "feature")
    assert listed_jobs(main) == []


def test_a_fresh_project_runs_nothing(tmp_path: Path) -> None:
    assert listed_jobs(_project(tmp_path, initialised=False)) == []


def _scripts(document: object) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("script", "before_script", "after_script"):
                yield from (value if isinstance(value, list) else [value])
            else:
                yield from _scripts(value)
    elif isinstance(document, list):
        for item in document:
            yield from _scripts(item)


def test_every_template_invocation_is_accepted_by_the_cli() -> None:
    from test_workflows import check_invocation, invocations  # noqa: PLC0415

    used: set[str] = set()
    for script in _scripts(load_template()):
        for words in invocations(str(script)):
            assert check_invocation(words) == [], words
            used.update(w for w in words[:3] if w in COMMANDS)
    assert used >= {"update-targets", "status", "online-sign", "publish", "test-client",
                    "bump-expiring"}  # fmt: skip


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type hints here
    """Safe YAML plus GitLab's !reference tag (kept as a list)."""


_Loader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def load_template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader
    return loaded


def test_least_privilege_in_the_template() -> None:
    config = load_template()
    jobs = {k: v for k, v in config.items() if isinstance(v, dict) and "stage" in v}
    assert [k for k, v in jobs.items() if "id_tokens" in v] == ["online-sign"]
    assert config["online-sign"]["id_tokens"]["SIGSTORE_ID_TOKEN"]["aud"] == "sigstore"
    assert config["online-sign"]["environment"]["name"] == "tuf-online"
    image = config["default"]["image"]
    assert image.startswith("python:3.11-slim@sha256:")
    assert len(image.rsplit(":", 1)[1]) == 64
    assert all("image" not in job for job in jobs.values()), "one pinned image"
    assert config["workflow"]["rules"][0] == {
        "if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"
    }  # fmt: skip


# --- the jobs, run with gitlab-ci-local -----------------------------------------------------


class LocalGitLab:
    """A CI clone of the world's origin that gitlab-ci-local runs the template's jobs in."""

    def __init__(self, world: World, api: FakeGitLab, tmp: Path) -> None:
        self.world = world
        self.api = api
        self.work = world.ci
        for name in (".gitlab-ci.yml", ".gitlab", ".github"):
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, self.work / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
            else:
                shutil.copy(source, self.work / name)
        git(self.work, "remote", "add", "gcl-origin", f"{api.url}/{api.project}.git")
        # GitLab advertises push options (ci.skip); the origin here does as well, and
        # records them: every push CI makes must skip the pipeline GitLab would start
        git(world.origin, "config", "receive.advertisePushOptions", "true")
        self.push_options = tmp / "push-options.log"
        self.refuse_pushes(refuse=False)
        # prepare.sh pushes to the instance with the token: here that is the bare origin
        push_url = (
            f"http://tufrepo-bot:{TOKEN}@{api.url.removeprefix('http://')}/{api.project}.git"
        )
        git(self.work, "config", "--global", "--add", f"url.{world.origin}.insteadOf", push_url)
        tools = tmp / "tools"
        tools.mkdir()
        wrapper = tools / "tufrepo"
        wrapper.write_text(
            f"#!/bin/sh\nexec {shlex.quote(str(Path(sys.executable).parent / 'tufrepo'))} "
            f'--now {world.now.isoformat()} "$@"\n'
        )
        wrapper.chmod(0o755)
        python3 = tools / "python3"  # the test's interpreter, which has tufrepo installed
        python3.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        python3.chmod(0o755)
        if shutil.which("rsync") is None:  # gitlab-ci-local copies the project with rsync
            rsync = tools / "rsync"
            rsync.write_text(
                f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(RSYNC))} "$@"\n'
            )
            rsync.chmod(0o755)
        self.env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "NO_PROXY": "127.0.0.1"}

    def refuse_pushes(self, *, refuse: bool) -> None:
        """Make the origin refuse every push (as a protected branch would), or accept them.

        Accepted pushes record their push option: every push CI makes must
        skip the pipeline GitLab would start.
        """
        hook = self.world.origin / "hooks" / "pre-receive"
        record = f'echo "${{GIT_PUSH_OPTION_0:-none}}" >> {shlex.quote(str(self.push_options))}'
        verdict = "echo 'refused by the test: protected branch' >&2; exit 1" if refuse else record
        hook.write_text(f"#!/bin/sh\ncat >/dev/null\n{verdict}\n")
        hook.chmod(0o755)

    def run(
        self, job: str | None, branch: str, *variables: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``job`` (``--needs``: and the jobs it needs) on ``branch`` as GitLab would.

        ``job=None`` runs the whole pipeline the rules create.  ``variables`` are
        ``NAME=value`` (pipeline variables, or predefined ones such as
        ``CI_PIPELINE_SOURCE``) or gitlab-ci-local options (``--needs``).
        """
        git(self.work, "fetch", "-q", "--prune", "origin")
        git(self.work, "checkout", "-q", "-B", branch, f"origin/{branch}")
        # the schema is checked once, by its own test: not again for every run (~1.5 s)
        args = ["--force-shell-executor", "--no-json-schema-validation",
                "--variable", "TUFREPO_PREINSTALLED=true",
                "--variable", f"TUFREPO_GITLAB_TOKEN={TOKEN}"]  # fmt: skip
        predefined = []
        for variable in variables:
            if variable.startswith("--"):
                args.append(variable)
                continue
            if variable.startswith("CI_"):  # overrides a predefined one: no warning
                predefined.append(variable.partition("=")[0])
            args += ["--variable", variable]
        if predefined:
            args += ["--ignore-predefined-vars", ",".join(predefined)]
        return gcl(self.work, *args, *([job] if job else []), env=self.env)


def test_signing_event_job_with_gitlab_ci_local(world: World, tmp_path: Path) -> None:
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

    with FakeGitLab(PROJECT) as api:
        local = LocalGitLab(world, api, tmp_path)
        done = local.run("signing-event", "sign/release")
        assert done.returncode == 0, done.stdout + done.stderr
        assert (
            git(world.origin, "log", "-1", "--format=%s", "sign/release")
            == "Update targets metadata for targets"
        )
        [mr] = api.merge_requests
        assert (mr["source_branch"], mr["target_branch"], mr["draft"]) == (
            "sign/release", "main", True
        )  # fmt: skip
        assert mr["title"] == "Draft: Signing event: sign/release"
        [note] = [n for n in mr["notes"] if not n["system"]]
        assert "`app.json`: added" in note["body"]
        assert "Waiting for signatures or invitations." in note["body"]
        assert api.tokens == {TOKEN}
        assert local.push_options.read_text() == "ci.skip\n"

        assert alice.sign("sign/release").exit_code == 0
        api.calls.clear()
        done = local.run("signing-event", "sign/release")
        assert done.returncode == 0, done.stdout + done.stderr
        assert (
            "POST",
            f"/api/v4/projects/{PROJECT.replace('/', '%2F')}/merge_requests",
        ) not in api.calls
        [mr] = api.merge_requests
        notes = [n for n in mr["notes"] if not n["system"]]
        assert len(notes) == 1, "one status note, updated in place"
        assert "**Ready**: every role is signed" in notes[0]["body"]
        assert mr["draft"] is False
        assert mr["title"] == "Signing event: sign/release"


def test_online_sign_pages_and_test_client_jobs_with_gitlab_ci_local(
    world: World, tmp_path: Path
) -> None:
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    pages = tmp_path / "pages"  # GitLab Pages: nothing is published yet
    pages.mkdir()
    with FakeGitLab(PROJECT) as api, serve_directory(pages) as pages_url:
        local = LocalGitLab(world, api, tmp_path)
        anchor = f"TUF_METADATA_URL={pages_url}/metadata"
        done = local.run("pages", "main", anchor, "--needs")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASS  online-sign" in done.stdout
        assert git(world.origin, "log", "-1", "--format=%s", "main").startswith("Online sign")
        assert local.push_options.read_text() == "ci.skip\n"
        site = world.ci / "public"
        check_site_with_both_clients(site, world.now)

        shutil.copytree(site, pages, dirs_exist_ok=True)  # GitLab deploys the artifact
        done = local.run("test-client", "main", anchor)
        assert done.returncode == 0, done.stdout + done.stderr

        # the next run judges main against what is published, and finds nothing to do
        done = local.run("online-sign", "main", anchor)
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"signed": []' in done.stdout  # the --json result in the job log


# --- the README's guide, and Sigstore online signing in the pipeline --------------------------

GITLAB = "https://gitlab.example.com"
GUIDE_PROJECT = "group/tuf-repo"
GUIDE_REMOTE = f"{GITLAB}/{GUIDE_PROJECT}.git"
PIPELINE_IDENTITY = f"{GITLAB}/{GUIDE_PROJECT}//.gitlab-ci.yml@refs/heads/main"
ALICE = "alice@example.com"


def _bundle_san(signature: dict[str, Any]) -> tuple[str, str]:
    """(SAN URI, OIDC issuer extension) of the certificate in a Sigstore signature's bundle."""
    from cryptography import x509  # noqa: PLC0415

    material = signature["bundle"]["verificationMaterial"]
    raw = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    cert = x509.load_der_x509_certificate(base64.b64decode(raw["rawBytes"]))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    [uri] = san.get_values_for_type(x509.UniformResourceIdentifier)
    issuer = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"))
    return uri, issuer.value.value.decode()  # type: ignore[attr-defined]


def test_the_readme_gitlab_guide_with_sigstore_online_signing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set up as the README says; the online-sign job signs with the pipeline's ID token.

    The project "lives" at gitlab.example.com (its URL reaches the local origin
    through git's insteadOf), so `--online-key sigstore` enrols the identity of
    this project's pipeline on main.  GitLab gives the job an ID token in
    SIGSTORE_ID_TOKEN (id_tokens); gitlab-ci-local does not mint one, so the
    test passes the token the instance would mint.  The Sigstore instance is
    the fake, selected the way the README says: the SIGSTORE_TRUST_CONFIG
    variable.
    """
    from test_readme_guides import README, commands, guide_blocks  # noqa: PLC0415

    kind, script = guide_blocks(README.read_text(encoding="utf-8"))["gitlab-init"]
    assert kind == "run"
    pages = tmp_path / "pages"  # GitLab Pages: nothing is published yet
    pages.mkdir()
    with (
        FakeSigstore() as fake,
        FakeGitLab(GUIDE_PROJECT) as api,
        serve_directory(pages) as pages_url,
    ):
        trust = fake.write_trust_config(tmp_path / "trust.json")
        monkeypatch.setenv("TUFREPO_SIGSTORE_TRUST_CONFIG", str(trust))  # the test's own checks
        local = LocalGitLab(world, api, tmp_path)
        git(
            world.root,
            "config",
            "--global",
            "--add",
            f"url.{world.origin}.insteadOf",
            GUIDE_REMOTE,
        )

        # step 1, as written: clone, settings, init (the maintainer's token: a browser sign-in)
        maintainer = tmp_path / "maintainer"
        maintainer.mkdir()
        env = {**local.env, "SIGSTORE_IDENTITY_TOKEN": mint_token(ALICE, GOOGLE_ISSUER)}
        lines = commands(script.replace("@your-handle", "@alice"))
        done = subprocess.run(["sh", "-euc", "\n".join(lines)], cwd=maintainer, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        root = json.loads(git(world.origin, "show", "sign/init:metadata/root.json"))["signed"]
        online = root["keys"][root["roles"]["timestamp"]["keyids"][0]]
        assert online["keyval"] == {"identity": PIPELINE_IDENTITY, "issuer": GITLAB}

        # the signing-event pipeline: a draft merge request, marked ready (alice signed)
        trust_variable = f"SIGSTORE_TRUST_CONFIG={json.dumps(fake.trust_config_json())}"
        done = local.run("signing-event", "sign/init", trust_variable)
        assert done.returncode == 0, done.stdout + done.stderr
        [mr] = api.merge_requests
        assert (mr["source_branch"], mr["draft"]) == ("sign/init", False)
        world.merge("sign/init")  # the maintainer merges it

        # online-sign on main: a token of another ref does not sign main
        anchor = f"TUF_METADATA_URL={pages_url}/metadata"
        main = git(world.origin, "rev-parse", "main")
        feature = PIPELINE_IDENTITY.replace("refs/heads/main", "refs/heads/feature")
        done = local.run("online-sign", "main", anchor, trust_variable,
                         f"SIGSTORE_ID_TOKEN={mint_token(feature, GITLAB)}")  # fmt: skip
        assert done.returncode != 0, done.stdout + done.stderr
        assert git(world.origin, "rev-parse", "main") == main, "nothing pushed"

        # the pipeline's own token: online-sign pushes, pages builds the site from its commit
        token = f"SIGSTORE_ID_TOKEN={mint_token(PIPELINE_IDENTITY, GITLAB)}"
        done = local.run("pages", "main", anchor, trust_variable, token, "--needs")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASS  online-sign" in done.stdout
        assert git(world.origin, "log", "-1", "--format=%s", "main").startswith("Online sign")
        site = world.ci / "public"
        timestamp = json.loads((site / "metadata" / "timestamp.json").read_text())
        assert _bundle_san(timestamp["signatures"][0]) == (PIPELINE_IDENTITY, GITLAB)

        # python-tuf (with Sigstore support) accepts the site; tuf-js cannot verify Sigstore keys
        shutil.copytree(site, pages, dirs_exist_ok=True)  # GitLab deploys the artifact
        checked = run("-C", str(world.ci), "test-client", f"{pages_url}/metadata", "--root",
                      str(world.ci / "metadata" / "root_history" / "1.root.json"))  # fmt: skip
        assert checked.exit_code == 0, checked.output


def test_bump_expiring_and_failure_reports_with_gitlab_ci_local(
    world: World, tmp_path: Path
) -> None:
    """The bump-expiring schedule, run whole: a refused push fails it and opens an issue;
    the next run opens the events, starts their pipelines and closes the issue."""
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    world.tick(320)  # root and targets (365 days, signing period 60) are due
    schedule = ("CI_PIPELINE_SOURCE=schedule", "TUFREPO_SCHEDULE=bump-expiring")
    with FakeGitLab(PROJECT) as api:
        local = LocalGitLab(world, api, tmp_path)
        local.refuse_pushes(refuse=True)
        done = local.run(None, "main", *schedule)
        log = done.stdout + done.stderr
        assert done.returncode != 0
        assert "bump-expiring  finished in" in log
        assert "FAIL 5" in log, log  # bump-expiring: a git failure (exit 5)
        assert "PASS  report-failure" in log, log
        assert "report-success" not in log
        [issue] = api.issues
        assert issue["state"] == "opened"
        assert issue["title"] == "Failure in bump-expiring"
        assert api.pipelines == []

        local.refuse_pushes(refuse=False)
        api.calls.clear()
        done = local.run(None, "main", *schedule)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASS  report-success" in done.stdout + done.stderr
        events = [ref for ref in git(world.origin, "for-each-ref", "--format=%(refname:short)",
                                     "refs/heads/sign/").splitlines() if ref != "sign/init"]  # fmt: skip
        assert len(events) == 1, events
        assert api.pipelines == events, "the new event's pipeline is started through the API"
        assert local.push_options.read_text().splitlines() == ["ci.skip"]
        assert issue["state"] == "closed"
        assert api.tokens == {TOKEN}


# --- the glue against the GitLab API stand-in ------------------------------------------------


def run_glue(api: FakeGitLab, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **api.env(), "NO_PROXY": "127.0.0.1"}
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_gitlab_failure_issue_opens_repeats_and_closes() -> None:
    with FakeGitLab(PROJECT) as api:
        args = ("--workflow", "online-sign")
        assert run_glue(api, "report.py", *args, "--result", "success").returncode == 0
        assert api.issues == []
        for _ in range(2):
            done = run_glue(api, "report.py", *args, "--result", "failure")
            assert done.returncode == 0, done.stderr
        [issue] = api.issues
        assert (issue["labels"], issue["state"], issue["title"]) == (
            ["tufrepo:online-sign-failure"], "opened", "Failure in online-sign"
        )  # fmt: skip
        assert issue["description"].endswith(f"{api.url}/{PROJECT}/-/pipelines/1")
        assert [n["body"] for n in issue["notes"]] == [
            f"Failed again: {api.url}/{PROJECT}/-/pipelines/1"
        ]
        assert run_glue(api, "report.py", *args, "--result", "success").returncode == 0
        assert issue["state"] == "closed"
        assert issue["notes"][-1]["body"].startswith("Succeeded again: ")


def test_gitlab_dispatch_starts_a_pipeline_per_event(tmp_path: Path) -> None:
    result = tmp_path / "bump.json"
    result.write_text(json.dumps({"events": ["sign/root-v2", "not-an-event", "sign/targets-v3"]}))
    with FakeGitLab(PROJECT) as api:
        assert run_glue(api, "dispatch_events.py", "--result", str(result)).returncode == 0
        assert api.pipelines == ["sign/root-v2", "sign/targets-v3"]


def test_gitlab_status_note_is_found_across_pages(tmp_path: Path) -> None:
    """Many notes (pages of two here): the status note is still found and edited, not added."""
    report = tmp_path / "status.md"
    report.write_text("waiting\n")
    args = ("--branch", "sign/x", "--markdown", str(report))
    with FakeGitLab(PROJECT) as api:
        assert run_glue(api, "event_pr.py", *args, "--status-exit", "3").returncode == 0
        [mr] = api.merge_requests
        mr["notes"] += [{"id": 5000 + i, "body": "lgtm", "system": False} for i in range(5)]
        done = run_glue(api, "event_pr.py", *args, "--status-exit", "4")
        assert done.returncode == 0, done.stderr
        ours = [n for n in mr["notes"] if n["body"].startswith("<!-- tufrepo-status -->")]
        assert len(ours) == 1
        assert "The event is invalid" in ours[0]["body"]
        assert mr["draft"] is True
        assert run_glue(api, "event_pr.py", *args, "--status-exit", "1").returncode == 1


def test_gitlab_api_refusals_fail_the_glue(tmp_path: Path) -> None:
    report = tmp_path / "status.md"
    report.write_text("waiting\n")
    with FakeGitLab(PROJECT) as api:
        env = {**os.environ, **api.env(), "TUFREPO_GITLAB_TOKEN": "wrong", "NO_PROXY": "127.0.0.1"}
        done = subprocess.run(
            [sys.executable, str(SCRIPTS / "event_pr.py"), "--branch", "sign/x",
             "--status-exit", "3", "--markdown", str(report)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode != 0
        assert "HTTP 401" in done.stderr
        assert api.merge_requests == []


def test_forge_is_chosen_from_the_ci_environment() -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import forge  # noqa: PLC0415
    finally:
        sys.path.remove(str(SCRIPTS))
    gitlab = forge.from_env({
        "GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_PROJECT_PATH": "grp/sub/tuf",
        "CI_JOB_TOKEN": "job", "TUFREPO_DOTENV": "out.env",
    })  # fmt: skip
    assert gitlab.name == "gitlab"
    assert gitlab.sigstore_identity() == (
        "https://gitlab.example.com/grp/sub/tuf//.gitlab-ci.yml@refs/heads/main",
        "https://gitlab.example.com",
    )
    assert gitlab.outputs_file() == Path("out.env")
    github = forge.from_env({"GITHUB_REPOSITORY": "octo/tuf", "GITHUB_OUTPUT": "o.txt"})
    assert github.name == "github"
    assert github.sigstore_identity() == (
        "https://github.com/octo/tuf/.github/workflows/online-sign.yml@refs/heads/main",
        sigstore.GITHUB_ISSUER,
    )


# --- Sigstore identity of the GitLab pipeline ------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "identity", "issuer"),
    [
        (
            "https://gitlab.com/group/tuf-repo.git",
            "https://gitlab.com/group/tuf-repo//.gitlab-ci.yml@refs/heads/main",
            "https://gitlab.com",
        ),
        (
            "git@gitlab.com:group/sub/tuf-repo.git",
            "https://gitlab.com/group/sub/tuf-repo//.gitlab-ci.yml@refs/heads/main",
            "https://gitlab.com",
        ),
        (
            "https://oauth2:glpat-x@gitlab.com/group/tuf-repo",
            "https://gitlab.com/group/tuf-repo//.gitlab-ci.yml@refs/heads/main",
            "https://gitlab.com",
        ),
        (
            "ssh://git@gitlab.example.com:2222/infra/tuf.git",
            "https://gitlab.example.com/infra/tuf//.gitlab-ci.yml@refs/heads/main",
            "https://gitlab.example.com",
        ),
        (
            "https://gitlab.example.com:8443/infra/tuf/",
            "https://gitlab.example.com/infra/tuf//.gitlab-ci.yml@refs/heads/main",
            "https://gitlab.example.com",
        ),
        (
            "https://code.gitlab.corp/a/b.git",
            "https://code.gitlab.corp/a/b//.gitlab-ci.yml@refs/heads/main",
            "https://code.gitlab.corp",
        ),
        (
            "https://github.com/octo/tuf-repo.git",
            "https://github.com/octo/tuf-repo/.github/workflows/online-sign.yml@refs/heads/main",
            sigstore.GITHUB_ISSUER,
        ),
    ],
)
def test_online_identity_is_derived_from_a_gitlab_remote(
    remote: str, identity: str, issuer: str
) -> None:
    assert sigstore.workflow_identity(remote) == identity
    assert sigstore.workflow_issuer(identity) == issuer
    # without --sigstore-issuer, the issuer follows the identity
    _, key = sigstore.enrol_workflow(identity)
    assert (key.keyval["identity"], key.keyval["issuer"]) == (identity, issuer)


@pytest.mark.parametrize(
    "remote",
    [
        "https://git.example.com/group/project.git",
        "/srv/git/tuf.git",
        "https://gitlab.com/just-a-group",
        None,
    ],
)
def test_unknown_remotes_need_explicit_identities(remote: str | None) -> None:
    from tufrepo.errors import UsageError  # noqa: PLC0415

    with pytest.raises(UsageError) as raised:
        sigstore.workflow_identity(remote)
    assert "--sigstore-identity https://HOST/GROUP/PROJECT//.gitlab-ci.yml" in str(
        raised.value.hint
    )


def test_an_explicit_issuer_is_kept() -> None:
    identity = "https://gitlab.example.com/a/b//.gitlab-ci.yml@refs/heads/main"
    _, key = sigstore.enrol_workflow(identity, "https://gitlab.example.com/oidc")
    assert key.keyval["issuer"] == "https://gitlab.example.com/oidc"


def test_init_enrols_the_gitlab_pipeline_identity(world: World) -> None:
    alice = world.user("alice")
    remote = "git@gitlab.example.com:infra/tuf.git"  # reached through the local origin
    git(alice.clone, "config", "--global", f"url.{world.origin}.insteadOf", remote)
    git(alice.clone, "remote", "set-url", "origin", remote)
    done = alice.tufrepo("init", "sign/init", "--online-key", "sigstore", "--key", alice.key_uri,
                         "--no-push")  # fmt: skip
    assert done.exit_code == 0, done.output
    root = json.loads(git(alice.clone, "show", "sign/init:metadata/root.json"))
    keys = [k for k in root["signed"]["keys"].values() if k["keytype"] == "sigstore-oidc"]
    assert [k["keyval"] for k in keys] == [{
        "identity": "https://gitlab.example.com/infra/tuf//.gitlab-ci.yml@refs/heads/main",
        "issuer": "https://gitlab.example.com",
    }]  # fmt: skip


# --- dotenv reports ----------------------------------------------------------------------------


def test_results_become_a_dotenv_report(tmp_path: Path) -> None:
    data = {"commit": "abc", "signed": ["snapshot", "timestamp"], "snapshot": None,
            "pushed": True, "multi-line": "a\nb"}  # fmt: skip
    assert ci_output.dotenv(data) == (
        'TUFREPO_COMMIT=abc\nTUFREPO_SIGNED=["snapshot", "timestamp"]\n'
        "TUFREPO_SNAPSHOT=\nTUFREPO_PUSHED=true\n"
    )
    assert "multi-line<<TUFREPO_EOF\na\nb\nTUFREPO_EOF\n" in ci_output.github_output(data)
    env = {"TUFREPO_DOTENV": str(tmp_path / "a.env"), "GITHUB_OUTPUT": str(tmp_path / "o.txt")}
    assert ci_output.write({"x": 1}, env) == [tmp_path / "o.txt", tmp_path / "a.env"]
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"commit": "abc"}))
    report = tmp_path / "b.env"
    assert (
        ci_output.main(["--result", str(result), "--dotenv", str(report), "--set", "done=true"])
        == 0
    )
    assert report.read_text() == "TUFREPO_COMMIT=abc\nTUFREPO_DONE=true\n"


def test_command_results_reach_the_dotenv_report_and_github_output(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """App.result writes whichever CI output files the environment names (both here)."""
    alice = world.user("alice")
    init_repo(world, alice)
    world.merge("sign/init")
    report, outputs = tmp_path / "online-sign.env", tmp_path / "github-output"
    monkeypatch.setenv("TUFREPO_DOTENV", str(report))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    done = world.ci_run("online-sign", "--push")
    assert done.exit_code == 0, done.output
    commit = git(world.origin, "rev-parse", "main")
    assert report.read_text().splitlines() == [
        'TUFREPO_SIGNED=["snapshot", "timestamp"]', "TUFREPO_SNAPSHOT=1",
        "TUFREPO_TIMESTAMP=1", f"TUFREPO_COMMIT={commit}", "TUFREPO_PUSHED=true",
    ]  # fmt: skip
    assert f"commit={commit}\n" in outputs.read_text()
    monkeypatch.delenv("GITHUB_OUTPUT")
    assert world.ci_run("online-sign").exit_code == 0  # nothing to do: still a result
    assert report.read_text().endswith(
        "TUFREPO_SIGNED=[]\nTUFREPO_SNAPSHOT=\nTUFREPO_TIMESTAMP=\n"
    )
    assert outputs.read_text().count("commit=") == 1


def test_every_command_with_outputs_gives_its_result_to_app_result() -> None:
    """The one path to $GITHUB_OUTPUT and $TUFREPO_DOTENV: no command writes them itself."""
    cli = ROOT / "src" / "tufrepo" / "cli"
    for name, target in COMMANDS.items():
        if name == "demo":  # a local walk-through: no outputs
            continue
        module = target.partition(":")[0].rsplit(".", 1)[-1]
        assert "app.result(" in (cli / f"{module}.py").read_text(), name
    for path in cli.glob("*.py"):
        text = path.read_text()
        for variable in ("GITHUB_OUTPUT", "TUFREPO_DOTENV"):
            assert variable not in text or path.name == "app.py", (path.name, variable)
