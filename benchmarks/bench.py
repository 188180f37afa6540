"""Benchmark tufrepo's commands against a minimal python-tuf script (baseline.py).

For each N (default 1,000 and 10,000 artifacts of 1 KiB in the targets role;
--with-100k adds 100,000) it builds a repository with local git, then times
each command as its own process, three runs, median, with the peak memory of
the command's process tree (``resource.getrusage(RUSAGE_CHILDREN)`` in a
wrapper process): update-targets, status, online-sign (needed and no-op),
publish, test-client; and baseline.py doing the same metadata work.  Then the
incremental case (#14): a second event adds ONE artifact to the N already
signed, and update-targets, status, repo-sign, online-sign and publish (into
the previous output) are timed again; their cost should not grow with N.
tufrepo runs from a default install (no extras) and the baseline from a venv
with only tuf and securesystemslib, both created under the work directory.

With ``--tuf-on-ci SRC`` tuf-on-ci's own CI tools are timed too, on the same
repository states as tufrepo's rows (tufrepo writes tuf-on-ci's format):
tuf-on-ci-update-targets --no-push, tuf-on-ci-status, tuf-on-ci-online-sign
(needed and no-op), tuf-on-ci-build-repository into a fresh directory (the +1
row: over its own last output) and tuf-on-ci-test-client against the site
tufrepo published.  SRC is a tuf-on-ci source tree (the directory holding
``repo/pyproject.toml``) or a commit/tag of the tuf-on-ci git repository given
by ``--tuf-on-ci-git`` (default: the local mirror), exported with git archive
into the work directory.  Its ``repo/`` package (not on PyPI) is installed into
``venv-tuf-on-ci`` in the work directory with securesystemslib and tuf pinned
as in the tree's ``uv.lock`` (what tuf-on-ci's actions install with ``uv sync
--frozen``); the venv is reused while the source and pins stay the same.  A
tuf-on-ci command that refuses a tufrepo-made repository is shown as "fails:
<reason>" in the table; rows tuf-on-ci has no command for show "-".

    python benchmarks/bench.py [--sizes 1000 10000] [--with-100k] [--runs 3] [--work DIR]
        [--tuf-on-ci SRC [--tuf-on-ci-git GIT_DIR]]

This is a measurement, not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
RUNS = 3
TOC_GIT = Path("/work/.mirror/theupdateframework+tuf-on-ci/repo")
# Used when the tuf-on-ci tree has no uv.lock to take the pins from (tuf-on-ci 0.20.0's lock).
TOC_PINS = {"securesystemslib": "1.4.0", "tuf": "7.0.0"}
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


@dataclass
class Timing:
    seconds: float
    peak_mb: float


@dataclass
class Row:
    name: str
    tufrepo: Timing
    baseline: Timing | None = None
    toc: Timing | str | None = None  # str: "fails: <why>" when tuf-on-ci refused the repo


def sh(cmd: list[str], cwd: Path, env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done.stdout


# Runs one command; its wall time and the peak RSS (KiB) of its process tree: stderr's last line.
_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], check=False).returncode\n"
    "took = time.perf_counter() - start\n"
    "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'\\n{took} {kb}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _run_timed(
    cmd: list[str], cwd: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Timing]:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds, kb = done.stderr.split()[-2:]
    return done, Timing(float(seconds), int(kb) / 1024)


def timed(cmd: list[str], cwd: Path, env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> Timing:
    done, timing = _run_timed(cmd, cwd, env)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}{done.stdout}")
    return timing


def try_timed(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    *,
    ok: tuple[int, ...] = (0,),
    expect: str | None = None,
) -> Timing | str:
    """timed() for a peer tool that may refuse the repository: its Timing, or "fails: <why>".

    A traceback fails the run whatever the exit code (an uncaught exception
    exits 1, which tuf-on-ci-status also uses for "not signed yet"), and so
    do a stdout without ``expect`` and a "**Error**:" line (tuf-on-ci-status's
    report of a role it finds invalid).
    """
    done, timing = _run_timed(cmd, cwd, env)
    err = done.stderr.rstrip().rpartition("\n")[0]  # without the wrapper's timing line
    if done.returncode in ok and "Traceback (most recent call last)" not in err:
        errors = [line for line in done.stdout.splitlines() if line.startswith("**Error**")]
        if errors:
            err = errors[0]
        elif expect is None or expect in done.stdout:
            return timing
        else:
            err = f"expected {expect!r}, got: {' '.join(done.stdout.split())}"
    lines = [line.strip() for line in (err or done.stdout).splitlines() if line.strip()]
    why = lines[-1] if lines else "no output"
    print(f"  {cmd[0]} failed ({done.returncode}):\n{err}\n{done.stdout[-2000:]}", file=sys.stderr)
    why = why.replace("|", "/").replace("`", "'")
    return f"fails: exit {done.returncode}: {why[:100]}"


def median(runs: list[Timing]) -> Timing:
    return Timing(statistics.median(r.seconds for r in runs), max(r.peak_mb for r in runs))


def make_venv(path: Path, *packages: str) -> Path:
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=True)
    return path / "bin"


class Scenario:
    def __init__(
        self, work: Path, n: int, tufrepo_bin: Path, base_bin: Path, toc_bin: Path | None = None
    ) -> None:
        self.work = work / f"n{n}"
        self.n = n
        self.bin = tufrepo_bin
        self.base_bin = base_bin
        self.toc_bin = toc_bin  # tuf-on-ci's venv, or None: not timed
        self.env = {**os.environ, **GIT_ENV, "CRYPTO_SIGNER_PATH_PREFIX": str(self.work / "keys")}
        self.rows: list[Row] = []
        self.runs = RUNS

    def toc(self, tool: str, *args: str) -> list[str] | None:
        """A tuf-on-ci CI command line (run in the "ci" clone), or None without --tuf-on-ci."""
        return [str(self.toc_bin / f"tuf-on-ci-{tool}"), *args] if self.toc_bin else None

    def tufrepo(self, clone: str, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        return sh(
            [str(self.bin / "tufrepo"), "-C", str(self.work / clone), *args],
            self.work,
            self.env,
            ok=ok,
        )

    def git(self, clone: str, *args: str) -> str:
        return sh(["git", *args], self.work / clone, self.env)

    def setup(self) -> None:
        if self.work.exists():
            shutil.rmtree(self.work)
        (self.work / "keys").mkdir(parents=True)
        keygen = (
            "from securesystemslib.signer import CryptoSigner\n"
            "import sys\n"
            "for name in sys.argv[1:]:\n"
            "    open(name, 'wb').write(CryptoSigner.generate_ed25519().private_bytes)\n"
        )
        sh(
            [str(self.bin / "python"), "-c", keygen, "alice.pem", "online.pem"],
            self.work / "keys",
            self.env,
        )
        sh(["git", "init", "-q", "--bare", "-b", "main", "origin.git"], self.work, self.env)
        sh(["git", "clone", "-q", "origin.git", "ci"], self.work, self.env)
        (self.work / "ci" / "README.md").write_text("bench\n")
        self.git("ci", "add", "README.md")
        self.git("ci", "commit", "-q", "-m", "init")
        self.git("ci", "push", "-q", "origin", "main")
        sh(["git", "clone", "-q", "origin.git", "alice"], self.work, self.env)
        (self.work / "alice" / ".tuf-on-ci-sign.ini").write_text(
            "[settings]\nuser-name = @alice\n"
        )
        self.tufrepo(
            "alice",
            "init",
            "sign/init",
            "--online-key",
            "file2:online.pem",
            "--key",
            "file2:alice.pem",
        )
        self.merge("sign/init")
        self.tufrepo("ci", "online-sign", "--push")
        self.git("alice", "fetch", "-q")
        self.git("alice", "switch", "-q", "-c", "sign/bulk", "origin/main")
        base = self.work / "alice" / "targets"
        base.mkdir(exist_ok=True)
        for i in range(self.n):
            (base / f"file{i:06d}.txt").write_bytes(f"{i:06d}".encode() * 170 + b"\n")
        self.git("alice", "add", "targets")
        self.git("alice", "commit", "-q", "-m", f"{self.n} artifacts")
        self.git("alice", "push", "-q", "origin", "sign/bulk")
        self.git("alice", "switch", "-q", "main")

    def merge(self, event: str) -> None:
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", "main", "origin/main")
        self.git("ci", "merge", "-q", "--no-ff", "-m", f"merge {event}", f"origin/{event}")
        self.git("ci", "push", "-q", "origin", "main")

    def measure(
        self,
        name: str,
        cmd: list[str],
        base_cmd: list[str] | None,
        *,
        reset: str | None = None,
        ok: tuple[int, ...] = (0,),
        before: Any = None,
        toc: list[str] | None = None,
        toc_ok: tuple[int, ...] = (0,),
        toc_expect: str | None = None,
    ) -> None:
        runs, base_runs = [], []
        for _ in range(self.runs):
            if before:
                before()
            runs.append(timed(cmd, self.work / "ci", self.env, ok=ok))
            if reset:
                self.git("ci", "reset", "-q", "--hard", reset)
        for _ in range(self.runs if base_cmd else 0):
            if before:
                before()
            base_runs.append(timed(base_cmd or [], self.work / "ci", self.env))
        row = Row(name, median(runs), median(base_runs) if base_runs else None)
        if toc:
            row.toc = self.measure_toc(toc, toc_ok, toc_expect, reset, before)
        self.rows.append(row)
        print(f"  measured n={self.n} {name}: {row}", file=sys.stderr, flush=True)

    def measure_toc(
        self,
        cmd: list[str],
        ok: tuple[int, ...],
        expect: str | None,
        reset: str | None,
        before: Any,
    ) -> Timing | str:
        """tuf-on-ci's command on the same state; the clone goes back to it after every run.

        tuf-on-ci's tools commit (update-targets, online-sign when it signs),
        so without a reset commit the clone is reset to the commit it started
        from, and the next row sees the state tufrepo left, not tuf-on-ci's.
        The first failure ends the row.
        """
        start = reset or self.git("ci", "rev-parse", "HEAD").strip()
        runs = []
        for _ in range(self.runs):
            if before:
                before()
            result = try_timed(cmd, self.work / "ci", self.env, ok=ok, expect=expect)
            self.git("ci", "reset", "-q", "--hard", start)
            if isinstance(result, str):
                return result
            runs.append(result)
        return median(runs)

    def run(self) -> None:
        tufrepo = [str(self.bin / "tufrepo"), "-C", str(self.work / "ci")]
        baseline = [str(self.base_bin / "python"), str(HERE / "baseline.py")]
        ci = str(self.work / "ci")
        key = str(self.work / "keys" / "online.pem")
        self.setup()
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", "sign/bulk", "origin/sign/bulk")
        pre = self.git("ci", "rev-parse", "HEAD").strip()
        # tuf-on-ci-update-targets exits 1 when it changed nothing: a failure here
        self.measure(
            "update-targets",
            [*tufrepo, "update-targets"],
            [*baseline, "targets", ci, key],
            reset=pre,
            toc=self.toc("update-targets", "--no-push"),
        )
        self.tufrepo("ci", "update-targets", "--push")
        # tuf-on-ci-status exits 1 while a role is not signed yet (expected here)
        self.measure(
            "status",
            [*tufrepo, "status"],
            [*baseline, "status", ci],
            ok=(3,),
            toc=self.toc("status"),
            toc_ok=(0, 1),
            toc_expect="Role `targets` contains following artifact changes",
        )
        sh(
            [str(self.bin / "repo-sign"), "sign/bulk", "--key", "file2:alice.pem"],
            self.work / "alice",
            self.env,
        )
        self.merge("sign/bulk")
        main = self.git("ci", "rev-parse", "HEAD").strip()
        self.measure(
            "online-sign (needed)",
            [*tufrepo, "online-sign"],
            [*baseline, "online", ci, key],
            reset=main,
            toc=self.toc("online-sign"),  # --no-push is its default
            toc_expect="Online sign (snapshot & timestamp)",
        )
        self.tufrepo("ci", "online-sign", "--push")  # the next event starts from it
        # tuf-on-ci-online-sign exits 0 whether it signs or not; signing again right
        # after tufrepo signed would mean it judged tufrepo's snapshot/timestamp
        # invalid or in their signing period: that is no no-op, so a failure here
        self.measure(
            "online-sign (no-op)",
            [*tufrepo, "online-sign"],
            None,
            toc=self.toc("online-sign"),
            toc_expect="Online signing not needed",
        )
        out = self.work / "site"
        base_out = self.work / "site-baseline"
        toc_out = self.work / "site-tuf-on-ci"

        def clean() -> None:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(base_out, ignore_errors=True)
            shutil.rmtree(toc_out, ignore_errors=True)

        self.measure(
            "publish",
            [*tufrepo, "publish", str(out)],
            [*baseline, "publish", ci, str(base_out)],
            before=clean,
            toc=self.toc_build(toc_out),
        )
        self.tufrepo("ci", "publish", str(out))
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        root = str(out / "metadata" / "1.root.json")
        try:
            self.measure(
                "test-client",
                [
                    *tufrepo,
                    "test-client",
                    f"{url}/metadata",
                    "--root",
                    root,
                    "--target",
                    "file000000.txt",
                ],
                [*baseline, "client", url, root, "file000000.txt"],
                # the site tufrepo published, the same initial root as the other two
                toc=self.toc(
                    "test-client",
                    *("-m", f"{url}/metadata", "-a", f"{url}/targets", "-r", root),
                    *("-e", "file000000.txt"),
                ),
            )
        finally:
            server.shutdown()
        self.incremental(out, toc_out)

    def toc_build(self, out: Path) -> list[str] | None:
        metadata, artifacts = str(out / "metadata"), str(out / "targets")
        return self.toc("build-repository", "--metadata", metadata, "--artifacts", artifacts)

    def incremental(self, site: Path, toc_site: Path | None = None) -> None:
        """One artifact added to the N signed ones: what a release costs (#14)."""
        tufrepo = [str(self.bin / "tufrepo"), "-C", str(self.work / "ci")]
        self.git("alice", "fetch", "-q")
        self.git("alice", "switch", "-q", "-c", "sign/one", "origin/main")
        (self.work / "alice" / "targets" / "release-1.txt").write_bytes(b"one more\n" * 100)
        self.git("alice", "add", "targets")
        self.git("alice", "commit", "-q", "-m", "one artifact")
        self.git("alice", "push", "-q", "origin", "sign/one")
        self.git("alice", "switch", "-q", "main")
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", "sign/one", "origin/sign/one")
        pre = self.git("ci", "rev-parse", "HEAD").strip()
        self.measure(
            "+1: update-targets",
            [*tufrepo, "update-targets"],
            None,
            reset=pre,
            toc=self.toc("update-targets", "--no-push"),
        )
        self.tufrepo("ci", "update-targets", "--push")
        self.measure(
            "+1: status",
            [*tufrepo, "status"],
            None,
            ok=(3,),
            toc=self.toc("status"),
            toc_ok=(0, 1),
            toc_expect="release-1.txt: ADDED",
        )
        sign = [str(self.bin / "repo-sign"), "-C", str(self.work / "alice")]
        self.rows.append(
            Row(
                "+1: repo-sign (n=1)",
                timed([*sign, "sign/one", "--key", "file2:alice.pem"], self.work, self.env),
            )
        )  # tuf-on-ci-sign is a signer tool (a person's HSM), not one of the CI tools timed here
        self.merge("sign/one")
        main = self.git("ci", "rev-parse", "HEAD").strip()
        self.measure(
            "+1: online-sign",
            [*tufrepo, "online-sign"],
            None,
            reset=main,
            toc=self.toc("online-sign"),
            toc_expect="Online sign (snapshot & timestamp)",
        )
        self.tufrepo("ci", "online-sign", "--push")
        # tuf-on-ci: build over its own output of the publish row (it copies everything again)
        self.measure(
            "+1: publish (over the last output)",
            [*tufrepo, "publish", str(site)],
            None,
            toc=self.toc_build(toc_site) if toc_site else None,
        )


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--with-100k", action="store_true", help="also N=100,000 (slow: minutes per command)"
    )
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per command (median)")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="use the work directory's tufrepo venv as it is (do not reinstall the project)",
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tufrepo-bench")
    parser.add_argument(
        "--tuf-on-ci",
        metavar="SRC",
        help="also time tuf-on-ci's CI tools: SRC is a tuf-on-ci source tree (holding "
        "repo/pyproject.toml) or a commit/tag of --tuf-on-ci-git; installed into "
        "WORK/venv-tuf-on-ci with securesystemslib and tuf pinned from its uv.lock",
    )
    parser.add_argument(
        "--tuf-on-ci-git",
        type=Path,
        default=TOC_GIT,
        metavar="GIT_DIR",
        help="the tuf-on-ci git repository a --tuf-on-ci commit is exported from",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    tufrepo_bin = make_venv(args.work / "venv-tufrepo", str(PROJECT))
    # the code under test, as it is now (the venv may be from an earlier run)
    subprocess.run([str(tufrepo_bin / "pip"), "--version"], check=True, capture_output=True)
    if not args.no_install:
        _reinstall(tufrepo_bin)
    base_bin = make_venv(
        args.work / "venv-baseline", "tuf>=7,<8", "securesystemslib[crypto]>=1.6,<2"
    )
    toc_bin = None
    if args.tuf_on_ci:
        tree, label = toc_source(args.tuf_on_ci, args.tuf_on_ci_git, args.work)
        toc_bin = toc_venv(args.work / "venv-tuf-on-ci", tree, label)
    _report(args, tufrepo_bin, base_bin, toc_bin)


def toc_source(src: str, git_dir: Path, work: Path) -> tuple[Path, str]:
    """The tuf-on-ci tree to install (holding repo/pyproject.toml) and what it is."""
    path = Path(src).expanduser()
    if (path / "repo" / "pyproject.toml").is_file():
        return path.resolve(), str(path.resolve())
    git = ["git", "--git-dir", str(git_dir)]
    found = subprocess.run(
        [*git, "rev-parse", "--verify", "--quiet", f"{src}^{{commit}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode:
        raise SystemExit(f"--tuf-on-ci {src}: neither a source tree nor a commit of {git_dir}")
    commit = found.stdout.strip()
    tree = work / f"tuf-on-ci-src-{commit[:12]}"
    if not (tree / "repo" / "pyproject.toml").is_file():
        shutil.rmtree(tree, ignore_errors=True)
        has_lock = [*git, "cat-file", "-e", f"{commit}:uv.lock"]
        lock = subprocess.run(has_lock, capture_output=True, check=False)
        paths = ["repo", *(["uv.lock"] if lock.returncode == 0 else [])]
        archive = subprocess.run(
            [*git, "archive", commit, *paths], capture_output=True, check=True
        )
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
    return tree, f"{commit[:12]} of {git_dir}"


def toc_pins(tree: Path) -> list[str]:
    """securesystemslib and tuf as tuf-on-ci's uv.lock has them (its actions use `uv sync --frozen`).

    Unpinned, pip takes the newest ones, which that tuf-on-ci was not released
    with (securesystemslib 1.6 dropped PyKCS11, which tuf-on-ci's signer imports;
    the CI tools of 0.20.0 did run with securesystemslib 1.6.0 and tuf 7.0.1).
    """
    lock = tree / "uv.lock"
    text = lock.read_text() if lock.is_file() else ""
    pins = []
    for name, default in TOC_PINS.items():
        found = re.search(rf'^name = "{name}"\nversion = "([^"]+)"', text, re.MULTILINE)
        pins.append(f"{name}=={found.group(1) if found else default}")
    return pins


def toc_venv(venv: Path, tree: Path, label: str) -> Path:
    """WORK/venv-tuf-on-ci with tuf-on-ci's repo/ package; rebuilt when the source changes."""
    pins = toc_pins(tree)
    want = f"{label}\n{' '.join(pins)}\n"
    marker = venv / "bench-tuf-on-ci-source.txt"
    if marker.is_file() and marker.read_text() == want:
        return venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)
    print(f"installing tuf-on-ci ({label}) with {' '.join(pins)}", file=sys.stderr, flush=True)
    make_venv(venv, str(tree / "repo"), *pins)
    marker.write_text(want)
    return venv / "bin"


def _reinstall(tufrepo_bin: Path) -> None:
    subprocess.run(
        [
            str(tufrepo_bin / "pip"),
            "install",
            "-q",
            "--force-reinstall",
            "--no-deps",
            str(PROJECT),
        ],
        check=True,
    )


def _report(
    args: argparse.Namespace, tufrepo_bin: Path, base_bin: Path, toc_bin: Path | None = None
) -> None:
    startup = median(
        [
            timed([str(tufrepo_bin / "tufrepo"), "--version"], args.work, dict(os.environ))
            for _ in range(5)
        ]
    )
    print(
        f"tufrepo --version: {startup.seconds:.2f} s, {startup.peak_mb:.0f} MB (default install)"
    )
    header = "| N | command | tufrepo s | peak MB | baseline s | ratio |"
    if toc_bin:
        # --help imports the whole package (every entry point is in tuf_on_ci/__init__)
        cmd = [str(toc_bin / "tuf-on-ci-online-sign"), "--help"]
        toc_start = median([timed(cmd, args.work, dict(os.environ)) for _ in range(5)])
        print(
            f"tuf-on-ci-online-sign --help: {toc_start.seconds:.2f} s, "
            f"{toc_start.peak_mb:.0f} MB (its venv, as tuf-on-ci's actions install it)"
        )
        header += " tuf-on-ci s | tuf-on-ci MB | tuf-on-ci ratio |"
    print()
    print(header)
    print("|---" * header.count(" | ") + "|---|")
    for n in [*args.sizes, *([100_000] if args.with_100k else [])]:
        scenario = Scenario(args.work, n, tufrepo_bin, base_bin, toc_bin)
        scenario.runs = args.runs
        scenario.run()
        for row in scenario.rows:
            t, b = row.tufrepo, row.baseline
            base = f"{b.seconds:.2f}" if b else "-"
            ratio = f"{t.seconds / b.seconds:.2f}" if b and b.seconds else "-"
            line = f"| {n} | {row.name} | {t.seconds:.2f} | {t.peak_mb:.0f} | {base} | {ratio} |"
            if toc_bin:
                line += _toc_cells(row.toc, b)
            print(line, flush=True)


def _toc_cells(toc: Timing | str | None, base: Timing | None) -> str:
    """The tuf-on-ci columns: seconds, peak MB and the ratio to the baseline."""
    if toc is None:
        return " - | - | - |"
    if isinstance(toc, str):
        return f" {toc} | - | - |"
    ratio = f"{toc.seconds / base.seconds:.2f}" if base and base.seconds else "-"
    return f" {toc.seconds:.2f} | {toc.peak_mb:.0f} | {ratio} |"


if __name__ == "__main__":
    main()
