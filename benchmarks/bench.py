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

    python benchmarks/bench.py [--sizes 1000 10000] [--with-100k] [--runs 3] [--work DIR]

This is a measurement, not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
RUNS = 3
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


def timed(cmd: list[str], cwd: Path, env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> Timing:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}{done.stdout}")
    seconds, kb = done.stderr.split()[-2:]
    return Timing(float(seconds), int(kb) / 1024)


def median(runs: list[Timing]) -> Timing:
    return Timing(statistics.median(r.seconds for r in runs), max(r.peak_mb for r in runs))


def make_venv(path: Path, *packages: str) -> Path:
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=True)
    return path / "bin"


class Scenario:
    def __init__(self, work: Path, n: int, tufrepo_bin: Path, base_bin: Path) -> None:
        self.work = work / f"n{n}"
        self.n = n
        self.bin = tufrepo_bin
        self.base_bin = base_bin
        self.env = {**os.environ, **GIT_ENV, "CRYPTO_SIGNER_PATH_PREFIX": str(self.work / "keys")}
        self.rows: list[tuple[str, Timing, Timing | None]] = []
        self.runs = RUNS

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
        self.rows.append((name, median(runs), median(base_runs) if base_runs else None))
        print(f"  measured n={self.n} {name}: {self.rows[-1][1]}", file=sys.stderr, flush=True)

    def run(self) -> None:
        tufrepo = [str(self.bin / "tufrepo"), "-C", str(self.work / "ci")]
        baseline = [str(self.base_bin / "python"), str(HERE / "baseline.py")]
        ci = str(self.work / "ci")
        key = str(self.work / "keys" / "online.pem")
        self.setup()
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", "sign/bulk", "origin/sign/bulk")
        pre = self.git("ci", "rev-parse", "HEAD").strip()
        self.measure(
            "update-targets",
            [*tufrepo, "update-targets"],
            [*baseline, "targets", ci, key],
            reset=pre,
        )
        self.tufrepo("ci", "update-targets", "--push")
        self.measure("status", [*tufrepo, "status"], [*baseline, "status", ci], ok=(3,))
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
        )
        self.tufrepo("ci", "online-sign", "--push")  # the next event starts from it
        self.measure("online-sign (no-op)", [*tufrepo, "online-sign"], None)
        out = self.work / "site"
        base_out = self.work / "site-baseline"

        def clean() -> None:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(base_out, ignore_errors=True)

        self.measure(
            "publish",
            [*tufrepo, "publish", str(out)],
            [*baseline, "publish", ci, str(base_out)],
            before=clean,
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
            )
        finally:
            server.shutdown()
        self.incremental(out)

    def incremental(self, site: Path) -> None:
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
        self.measure("+1: update-targets", [*tufrepo, "update-targets"], None, reset=pre)
        self.tufrepo("ci", "update-targets", "--push")
        self.measure("+1: status", [*tufrepo, "status"], None, ok=(3,))
        sign = [str(self.bin / "repo-sign"), "-C", str(self.work / "alice")]
        self.rows.append(
            (
                "+1: repo-sign (n=1)",
                timed([*sign, "sign/one", "--key", "file2:alice.pem"], self.work, self.env),
                None,
            )
        )
        self.merge("sign/one")
        main = self.git("ci", "rev-parse", "HEAD").strip()
        self.measure("+1: online-sign", [*tufrepo, "online-sign"], None, reset=main)
        self.tufrepo("ci", "online-sign", "--push")
        self.measure("+1: publish (over the last output)", [*tufrepo, "publish", str(site)], None)


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
    _report(args, tufrepo_bin, base_bin)


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


def _report(args: argparse.Namespace, tufrepo_bin: Path, base_bin: Path) -> None:
    startup = median(
        [
            timed([str(tufrepo_bin / "tufrepo"), "--version"], args.work, dict(os.environ))
            for _ in range(5)
        ]
    )
    print(
        f"tufrepo --version: {startup.seconds:.2f} s, {startup.peak_mb:.0f} MB (default install)"
    )
    print()
    print("| N | command | tufrepo s | peak MB | baseline s | ratio |")
    print("|---|---|---|---|---|---|")
    for n in [*args.sizes, *([100_000] if args.with_100k else [])]:
        scenario = Scenario(args.work, n, tufrepo_bin, base_bin)
        scenario.runs = args.runs
        scenario.run()
        for name, t, b in scenario.rows:
            base = f"{b.seconds:.2f}" if b else "-"
            ratio = f"{t.seconds / b.seconds:.2f}" if b and b.seconds else "-"
            print(
                f"| {n} | {name} | {t.seconds:.2f} | {t.peak_mb:.0f} | {base} | {ratio} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
