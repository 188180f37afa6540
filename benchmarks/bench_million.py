"""Issue #14 at scale: N artifacts (default 1,000,000) listed in a manifest, in hash bins.

In a work directory (default /tmp/bench-million) it builds a repository with
the CLI as the tests do (local bare origin, file keys, ``tufrepo init``, a
delegated role ``releases`` for ``releases/*``, merged), then one signing
event that lists N tiny synthetic artifacts in
``targets/.manifests/releases.jsonl`` (``releases/a<i>.bin``; their bytes are
written only for the three artifacts the clients download, into a separate
store directory, under their consistent-snapshot names) and runs
``delegate EVENT releases --bins auto``, ``update-targets``, ``status``,
``repo-sign``, merge, ``online-sign`` and ``publish``: each timed as its own
process with the peak RSS of its process tree (``RUSAGE_CHILDREN`` in a
wrapper process, as bench.py does).  Then:

* every published metadata file is held to the strictest default client limit
  (``tufrepo.core.sizes.CLIENT_LIMITS``): the largest file of each role kind;
* ``tufrepo test-client`` (python-tuf) and tuf-js (tests/js/client.js) refresh
  from the site and download the first, middle and last artifact from the store,
  both served on 127.0.0.1;
* baseline.py does the same bin work with python-tuf alone (same bin count)
  and a ratio table is printed;
* then one artifact more goes through a whole event (``+1:`` rows: update-targets,
  status, repo-sign, online-sign, a no-op online-sign, publish over the last
  output), and one manifest line more (``+1 line:`` rows, a release
  pipeline's artifact), whose cost should not grow with N (compare a run
  with ``--n 1000``).

    .venv/bin/python benchmarks/bench_million.py [--n 1000000] [--work DIR] [--bins auto|N]

Run it with the project's virtualenv (it imports tufrepo.core.sizes and runs
that venv's tufrepo, repo-sign and python for the baseline).  Exit 1 when a
file is over its limit or a client fails; a failing command stops the run.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(PROJECT / "src"))  # the code under test even without an install

from bench import _WRAPPER, GIT_ENV, _Quiet  # noqa: E402 - the same timing and git set-up

from tufrepo.core.sizes import CLIENT_LIMITS, STRICTEST_CLIENTS  # noqa: E402

ROLE = "releases"
EVENT = "sign/million"
ENTRY_BYTES = 160  # one serialized entry of releases/a<i>.bin (length, sha256), indented


@dataclass
class Step:
    name: str
    seconds: float
    peak_mb: float | None  # None: not a measured process (git, python in this process)


class Failed(SystemExit):
    pass


def artifact_bytes(i: int) -> bytes:
    """The synthetic content of artifact ``i`` (a few bytes, distinct for each)."""
    return b"artifact %d\n" % i


def artifact_path(i: int) -> str:
    return f"{ROLE}/a{i}.bin"


class Server:
    """A directory served on 127.0.0.1 by a thread of this process."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(directory))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Million:
    def __init__(self, work: Path, n: int, bins: str, bin_dir: Path) -> None:
        self.work = work
        self.n = n
        self.bins = bins
        self.bin = bin_dir
        self.env = {**os.environ, **GIT_ENV, "CRYPTO_SIGNER_PATH_PREFIX": str(work / "keys")}
        self.steps: list[Step] = []
        self.baseline: dict[str, Step] = {}
        self.site = work / "site"
        self.store = work / "store"
        self.picked = [0, n // 2, n - 1]  # first, middle, last: what the clients download
        self.count = 0  # bins tufrepo made

    # --- running things ------------------------------------------------------------------

    def sh(self, cmd: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            cmd, cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode not in ok:
            raise Failed(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}{done.stdout}"
            )
        return done.stdout

    def timed(
        self, name: str, cmd: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)
    ) -> tuple[Step, str]:
        """Run ``cmd`` in the wrapper; its Step (also recorded unless baseline) and stdout."""
        print(f"  {name} ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, "-c", _WRAPPER, *cmd],
            cwd=cwd, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        stderr, _, last = done.stderr.rstrip("\n").rpartition("\n")
        seconds, kb = last.split()
        step = Step(name, float(seconds), int(kb) / 1024)
        print(f"    {step.seconds:.2f} s, {step.peak_mb:.0f} MB", file=sys.stderr, flush=True)
        if done.returncode not in ok:
            raise Failed(
                f"{name}: {' '.join(cmd)} failed ({done.returncode}):\n"
                f"{stderr[-4000:]}{done.stdout[-4000:]}"
            )
        return step, done.stdout

    def step(self, name: str, cmd: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)) -> str:
        step, out = self.timed(name, cmd, cwd, ok=ok)
        self.steps.append(step)
        return out

    def plain(self, name: str, action: Any) -> None:
        """Time something that is not a tufrepo process (git, writing the manifest)."""
        print(f"  {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        action()
        self.steps.append(Step(name, time.perf_counter() - start, None))

    def tufrepo(self, clone: str, *args: str) -> list[str]:
        return [str(self.bin / "tufrepo"), "-C", str(self.work / clone), *args]

    def repo_sign(self, event: str) -> list[str]:
        """alice signs ``event`` with her file key, without asking."""
        return [
            str(self.bin / "repo-sign"), "-C", str(self.work / "alice"),
            event, "--key", "file2:alice.pem", "--yes",
        ]  # fmt: skip

    def git(self, clone: str, *args: str) -> str:
        return self.sh(["git", *args], self.work / clone)

    def merge(self, event: str) -> None:
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", "main", "origin/main")
        self.git("ci", "merge", "-q", "--no-ff", "-m", f"merge {event}", f"origin/{event}")
        self.git("ci", "push", "-q", "origin", "main")

    # --- 1. the repository ---------------------------------------------------------------

    def setup(self) -> None:
        """Keys, origin, clones, init and the releases role, merged and online-signed."""
        if self.work.exists():
            shutil.rmtree(self.work)
        keys = self.work / "keys"
        keys.mkdir(parents=True)
        keygen = (
            "from securesystemslib.signer import CryptoSigner\n"
            "import sys\n"
            "for name in sys.argv[1:]:\n"
            "    open(name, 'wb').write(CryptoSigner.generate_ed25519().private_bytes)\n"
        )
        self.sh([str(self.bin / "python"), "-c", keygen, "alice.pem", "online.pem"], keys)
        self.sh(["git", "init", "-q", "--bare", "-b", "main", "origin.git"], self.work)
        self.sh(["git", "clone", "-q", "origin.git", "ci"], self.work)
        (self.work / "ci" / "README.md").write_text("bench\n")
        self.git("ci", "add", "README.md")
        self.git("ci", "commit", "-q", "-m", "init")
        self.git("ci", "push", "-q", "origin", "main")
        self.sh(["git", "clone", "-q", "origin.git", "alice"], self.work)
        settings = "[settings]\nuser-name = @alice\n"
        (self.work / "alice" / ".tuf-on-ci-sign.ini").write_text(settings)
        key = ("--key", "file2:alice.pem")
        self.sh(
            self.tufrepo("alice", "init", "sign/init", "--online-key", "file2:online.pem", *key),
            self.work,
        )
        self.merge("sign/init")
        self.sh(self.tufrepo("ci", "online-sign", "--push"), self.work)
        self.sh(
            self.tufrepo("alice", "delegate", "sign/releases", ROLE, "--path", f"{ROLE}/*", *key),
            self.work,
        )
        self.merge("sign/releases")
        self.sh(self.tufrepo("ci", "online-sign", "--push"), self.work)

    def write_manifest(self) -> None:
        """N manifest lines on the event branch; the picked artifacts' bytes in the store."""
        alice = self.work / "alice"
        self.git("alice", "fetch", "-q")
        self.git("alice", "switch", "-q", "-c", EVENT, "origin/main")
        manifest = alice / "targets" / ".manifests" / f"{ROLE}.jsonl"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        picked = set(self.picked)
        with manifest.open("w") as out:
            for i in range(self.n):
                data = artifact_bytes(i)
                digest = hashlib.sha256(data).hexdigest()
                out.write(
                    f'{{"path": "{artifact_path(i)}", "length": {len(data)}, '
                    f'"hashes": {{"sha256": "{digest}"}}}}\n'
                )
                if i in picked:  # the consistent-snapshot name clients ask the store for
                    (self.store / ROLE).mkdir(parents=True, exist_ok=True)
                    (self.store / ROLE / f"{digest}.a{i}.bin").write_bytes(data)
        self.git("alice", "add", "targets")
        self.git("alice", "commit", "-q", "-m", f"{self.n} artifacts in a manifest")
        self.git("alice", "push", "-q", "origin", EVENT)
        self.git("alice", "switch", "-q", "main")

    def event(self) -> None:
        """The timed signing event, from the manifest to the published site."""
        self.plain("write manifest + commit + push (git)", self.write_manifest)
        self.step(
            f"delegate --bins {self.bins}",
            self.tufrepo(
                "alice", "delegate", EVENT, ROLE, "--bins", self.bins, "--key", "file2:alice.pem"
            ),
            self.work,
        )
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", EVENT, f"origin/{EVENT}")
        releases = json.loads((self.work / "ci" / "metadata" / f"{ROLE}.json").read_text())
        self.count = len(releases["signed"]["delegations"]["roles"])
        per_bin = self.n * ENTRY_BYTES // self.count
        print(
            f"    {self.count} bins: about {per_bin:,} bytes and {self.n // self.count:,} entries "
            "per bin",
            file=sys.stderr,
        )
        if per_bin > CLIENT_LIMITS["targets"]:
            print(
                "    WARNING: over the targets limit; update-targets will refuse "
                f"(--bins {self.bins} counted the role's entries before the manifest's)",
                file=sys.stderr,
            )
        self.step(
            "update-targets --push", self.tufrepo("ci", "update-targets", "--push"), self.work
        )
        self.step("status (waiting: exit 3)", self.tufrepo("ci", "status"), self.work, ok=(3,))
        self.step("repo-sign --yes", self.repo_sign(EVENT), self.work)
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", EVENT, f"origin/{EVENT}")
        self.step("status (ready: exit 0)", self.tufrepo("ci", "status"), self.work)
        self.plain("merge (git)", lambda: self.merge(EVENT))
        self.step("online-sign --push", self.tufrepo("ci", "online-sign", "--push"), self.work)
        self.step("publish", self.tufrepo("ci", "publish", str(self.site)), self.work)

    def incremental(self) -> None:
        """One artifact more (a file under releases/) through a whole event: #14's O(changed)."""
        self.git("alice", "fetch", "-q")
        runs = self.git("alice", "branch", "-r", "--list", "origin/sign/one-more*").split()
        event = f"sign/one-more-{len(runs) + 1}"  # each run adds its own artifact
        self.git("alice", "switch", "-q", "-C", event, "origin/main")
        path = self.work / "alice" / "targets" / ROLE / f"{event.removeprefix('sign/')}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"one more artifact\n")
        self.git("alice", "add", "targets")
        self.git("alice", "commit", "-q", "-m", "One more artifact")
        self.git("alice", "push", "-q", "origin", event)
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", event, f"origin/{event}")
        self.step(
            "+1: update-targets --push", self.tufrepo("ci", "update-targets", "--push"), self.work
        )
        self.step("+1: status (waiting: exit 3)", self.tufrepo("ci", "status"), self.work, ok=(3,))
        self.step("+1: repo-sign --yes", self.repo_sign(event), self.work)
        self.plain("+1: merge (git)", lambda: self.merge(event))
        self.step("+1: online-sign --push", self.tufrepo("ci", "online-sign", "--push"), self.work)
        self.step("+1: online-sign (no-op)", self.tufrepo("ci", "online-sign"), self.work)
        self.step(
            "+1: publish (over the last output)",
            self.tufrepo("ci", "publish", str(self.site)),
            self.work,
        )

    def incremental_line(self) -> None:
        """One manifest line more (a release pipeline's artifact) through a whole event."""
        self.git("alice", "fetch", "-q")
        runs = self.git("alice", "branch", "-r", "--list", "origin/sign/one-line*").split()
        event = f"sign/one-line-{len(runs) + 1}"
        self.git("alice", "switch", "-q", "-C", event, "origin/main")
        manifest = self.work / "alice" / "targets" / ".manifests" / f"{ROLE}.jsonl"
        data = f"{event} artifact\n".encode()
        with manifest.open("a") as out:
            out.write(
                f'{{"path": "{ROLE}/{event.removeprefix("sign/")}.bin", "length": {len(data)}, '
                f'"hashes": {{"sha256": "{hashlib.sha256(data).hexdigest()}"}}}}\n'
            )
        self.git("alice", "commit", "-q", "-am", "One manifest line more")
        self.git("alice", "push", "-q", "origin", event)
        self.git("ci", "fetch", "-q")
        self.git("ci", "checkout", "-q", "-B", event, f"origin/{event}")
        self.step(
            "+1 line: update-targets --push",
            self.tufrepo("ci", "update-targets", "--push"),
            self.work,
        )
        self.step(
            "+1 line: status (waiting: exit 3)", self.tufrepo("ci", "status"), self.work, ok=(3,)
        )
        self.step("+1 line: repo-sign --yes", self.repo_sign(event), self.work)
        self.plain("+1 line: merge (git)", lambda: self.merge(event))
        self.step(
            "+1 line: online-sign --push", self.tufrepo("ci", "online-sign", "--push"), self.work
        )
        self.step(
            "+1 line: publish (over the last output)",
            self.tufrepo("ci", "publish", str(self.site)),
            self.work,
        )

    # --- 2. sizes ------------------------------------------------------------------------

    def check_sizes(self) -> bool:
        """Every published metadata file against the strictest client limit; True when all fit."""
        largest: dict[str, tuple[int, str, int]] = {}  # kind -> (bytes, file, files of the kind)
        over = []
        for path in sorted((self.site / "metadata").glob("*.json")):
            name = re.sub(r"^\d+\.", "", path.name).removesuffix(".json")
            if name in CLIENT_LIMITS:
                kind, limit = name, CLIENT_LIMITS[name]
            else:
                kind = "bin" if "-bin-" in name else "delegated"
                limit = CLIENT_LIMITS["targets"]
            size = path.stat().st_size
            if size > limit:
                over.append(f"{path.name}: {size:,} bytes > {limit:,}")
            best = largest.get(kind, (0, "", 0))
            largest[kind] = (
                max(size, best[0]),
                path.name if size > best[0] else best[1],
                best[2] + 1,
            )
        print()
        print(f"Published metadata ({self.site / 'metadata'}) against the strictest client limit:")
        print()
        print("| kind | files | largest | bytes | limit | % of limit | strictest client |")
        print("|---|---|---|---|---|---|---|")
        for kind in ("root", "timestamp", "snapshot", "targets", "delegated", "bin"):
            if kind not in largest:
                continue
            size, name, files = largest[kind]
            limit = CLIENT_LIMITS.get(kind, CLIENT_LIMITS["targets"])
            who = STRICTEST_CLIENTS.get(kind, STRICTEST_CLIENTS["targets"])
            print(
                f"| {kind} | {files} | {name} | {size:,} | {limit:,} | "
                f"{100 * size / limit:.1f} | {who} |"
            )
        if "bin" in largest:
            biggest = json.loads((self.site / "metadata" / largest["bin"][1]).read_text())
            print(f"\nlargest bin: {len(biggest['signed']['targets']):,} entries")
        for line in over:
            print(f"OVER THE LIMIT: {line}")
        return not over

    # --- 3. both clients -----------------------------------------------------------------

    def clients(self) -> bool:
        targets = [artifact_path(i) for i in self.picked]
        root = self.site / "metadata" / "1.root.json"
        site, store = Server(self.site), Server(self.store)
        ok = True
        try:
            cmd = self.tufrepo(
                "ci", "test-client", f"{site.url}/metadata", "--root", str(root),
                "--targets-url", store.url,
            )  # fmt: skip
            for target in targets:
                cmd += ["--target", target]
            self.step("test-client (python-tuf, 3 downloads)", cmd, self.work)
            node = shutil.which("node")
            client = PROJECT / "tests" / "js" / "client.js"
            if node is None or not (PROJECT / "tests" / "js" / "node_modules" / "tuf-js").exists():
                print("tuf-js: SKIPPED (needs node and `npm ci --prefix tests/js`)")
                return False
            with tempfile.TemporaryDirectory(prefix="tufjs-") as out:
                stdout = self.step(
                    "tuf-js refresh + 3 downloads",
                    [
                        node,
                        str(client),
                        f"{site.url}/metadata",
                        store.url,
                        str(root),
                        out,
                        *targets,
                    ],
                    self.work,
                )
            got = json.loads(stdout.strip().splitlines()[-1])["targets"]
            want = {
                artifact_path(i): hashlib.sha256(artifact_bytes(i)).hexdigest()
                for i in self.picked
            }
            if got != want:
                print(f"tuf-js downloaded other bytes: {got} != {want}")
                ok = False
        finally:
            site.close()
            store.close()
        return ok

    # --- 4. the baseline -----------------------------------------------------------------

    def run_baseline(self) -> None:
        count = self.count
        manifest = self.work / "ci" / "targets" / ".manifests" / f"{ROLE}.jsonl"
        key = str(self.work / "keys" / "alice.pem")
        online = str(self.work / "keys" / "online.pem")
        out = self.work / "baseline"
        script = [str(self.bin / "python"), str(HERE / "baseline.py")]
        shutil.rmtree(out, ignore_errors=True)
        self.baseline["update-targets --push"] = self.timed(
            f"baseline: {count} bins, unsigned",
            [*script, "bins", str(manifest), str(out), str(count)],
            self.work,
        )[0]
        self.baseline["repo-sign --yes"] = self.timed(
            "baseline: sign every bin", [*script, "sign", str(out), key], self.work
        )[0]
        self.baseline["online-sign --push"] = self.timed(
            "baseline: snapshot + timestamp",
            [*script, "snapshot", str(self.work / "ci" / "metadata"), online],
            self.work,
        )[0]
        shutil.rmtree(out, ignore_errors=True)
        self.baseline["bin work total"] = self.timed(
            f"baseline: {count} bins, signed, one process",
            [*script, "bins", str(manifest), str(out), str(count), key],
            self.work,
        )[0]

    def report(self) -> None:
        print()
        print(
            f"N = {self.n:,} manifest artifacts, {self.count} bins (--bins {self.bins}); "
            "baseline: python-tuf alone, same bins"
        )
        print()
        print("| step | tufrepo s | peak MB | baseline s | ratio |")
        print("|---|---|---|---|---|")
        for step in self.steps:
            self._row(step.name, step.seconds, step.peak_mb, self.baseline.get(step.name))
        bin_work = [
            s for s in self.steps if s.name.startswith(("delegate", "update-targets", "repo-sign"))
        ]
        self._row(
            "bin work total (delegate + update-targets + repo-sign)",
            sum(s.seconds for s in bin_work),
            max(((s.peak_mb or 0) for s in bin_work), default=0),
            self.baseline.get("bin work total"),
        )
        measured = [
            s.peak_mb
            for s in self.steps
            if s.peak_mb is not None and not s.name.startswith("tuf-js")
        ]
        print()
        print(f"peak memory of any tufrepo command: {max(measured):.0f} MB")

    @staticmethod
    def _row(name: str, seconds: float, peak: float | None, base: Step | None) -> None:
        mb = f"{peak:.0f}" if peak is not None else "-"
        b = f"{base.seconds:.2f}" if base else "-"
        ratio = f"{seconds / base.seconds:.2f}" if base and base.seconds else "-"
        print(f"| {name} | {seconds:.2f} | {mb} | {b} | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="artifacts in the manifest")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-million")
    parser.add_argument("--bins", default="auto", help="delegate --bins value (default auto)")
    parser.add_argument(
        "--bin-dir",
        type=Path,
        default=Path(sys.executable).parent,
        help="directory with tufrepo, repo-sign and python (default: this interpreter's)",
    )
    parser.add_argument(
        "--no-incremental",
        action="store_true",
        help="skip the +1 event (one artifact more through every command)",
    )
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="only the +1 event, on the repository an earlier run left in --work",
    )
    args = parser.parse_args()
    if args.n < 3:
        parser.error("--n must be at least 3")
    if not (args.bin_dir / "tufrepo").exists():
        parser.error(f"no tufrepo in {args.bin_dir}: run with the project's .venv/bin/python")
    bench = Million(args.work.resolve(), args.n, args.bins, args.bin_dir)
    if args.incremental_only:
        bench.incremental()
        bench.incremental_line()
        bench.report()
        return
    start = time.perf_counter()
    print(f"bench_million: N={args.n:,} in {bench.work}", file=sys.stderr, flush=True)
    bench.setup()
    bench.event()
    sizes_ok = bench.check_sizes()
    print()
    clients_ok = bench.clients()
    print(f"clients: python-tuf OK, tuf-js {'OK' if clients_ok else 'FAILED'} (3 downloads each)")
    bench.run_baseline()
    if not args.no_incremental:
        bench.incremental()
        bench.incremental_line()
    bench.report()
    print(f"whole run: {time.perf_counter() - start:.0f} s")
    if not (sizes_ok and clients_ok):
        sys.exit(1)


if __name__ == "__main__":
    main()
