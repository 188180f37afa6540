"""Robustness: hostile or unlucky input ends in a check's finding, never an exception.

* periods out of bounds (huge, float, string, bool) are a MetadataError naming
  the role and the field, not an OverflowError deep in date arithmetic;
* floats (and NaN/Infinity) in ``signed`` are refused when metadata is parsed,
  not when canonical JSON is computed much later;
* bump-expiring names its event so that any file system can hold the branch,
  and an open event whose metadata does not parse is reported and ignored;
* test-client and download have one deadline for the whole run, so a server
  trickling bytes fails the run instead of hanging it (time is a fake clock).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, World, git, init_repo, out, run
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from repo_builder import RepoBuilder
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Root, Targets
from webserver import Served, serve_directory

import tufrepo.client
from tufrepo.client import ClientTimeoutError, download_target, run_client_checks
from tufrepo.core import fields
from tufrepo.core.repository import TufRepository, parse_metadata, serialize
from tufrepo.core.store import WorktreeStore
from tufrepo.errors import MetadataError, RejectedError
from tufrepo.ops.expiry import event_name
from tufrepo.ops.publish import build_site

EXPIRY = "x-tuf-on-ci-expiry-period"
SIGNING = "x-tuf-on-ci-signing-period"


def period_error(role: str, field: str, found: str) -> str:
    return f"{role}: {field} must be a whole number of days between 1 and 3660, found {found}"


# --- a repository on origin, and events pushed by someone without keys ---------------


@pytest.fixture
def repo(world: World) -> World:
    """root and targets signed by @alice, merged into main."""
    alice = world.user("alice")
    assert init_repo(world, alice).exit_code == 0
    world.merge("sign/init")
    return world


def push_event(world: World, event: str, mutate: Callable[[Path], None]) -> None:
    """Push ``event``: main with ``mutate`` applied to a clone's files."""
    clone = world.root / "mallory"
    if not clone.exists():
        git(world.root, "clone", "-q", str(world.origin), str(clone))
    git(clone, "fetch", "-q", "--prune")
    git(clone, "checkout", "-q", "-f", "-B", event, "origin/main")
    mutate(clone)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", f"edit {event}")
    git(clone, "push", "-q", "-f", "origin", event)


def edit_signed(role: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """Change a role's ``signed`` and bump its version, as a hand edit would."""

    def apply(clone: Path) -> None:
        path = clone / "metadata" / f"{role}.json"
        data = json.loads(path.read_text())
        data["signed"]["version"] += 1
        change(data["signed"])
        path.write_text(json.dumps(data, indent=1, sort_keys=True))

    return apply


def write_file(relpath: str, text: str) -> Callable[[Path], None]:
    def apply(clone: Path) -> None:
        (clone / relpath).write_text(text)

    return apply


def findings(world: World, event: str) -> tuple[int, list[dict[str, str]]]:
    code, status = world.status(event)
    found: list[dict[str, str]] = status["findings"]
    return code, found


# --- 1. periods ----------------------------------------------------------------------


def _targets(**custom: object) -> Targets:
    return Targets(unrecognized_fields=dict(custom))


PERIOD_VALUES = {
    "huge": (10**30, "1e+30"),
    "past-year-9999": (10**8, "100000000"),
    "over-ten-years": (3661, "3661"),
    "zero": (0, "0"),
    "negative": (-5, "-5"),
    "float": (30.0, "30.0"),
    "infinity": (float("inf"), "inf"),
    "string": ("30", '"30"'),
    "bool": (True, "true"),
    "null": (None, "null"),
    "too-many-digits": (10**5000, "a number over 1e+300"),
}


@pytest.mark.parametrize("name", sorted(PERIOD_VALUES))
def test_a_period_must_be_a_whole_number_of_days_within_ten_years(name: str) -> None:
    value, shown = PERIOD_VALUES[name]
    with pytest.raises(MetadataError) as e:
        fields.get_periods(None, "targets", _targets(**{EXPIRY: value}))
    assert str(e.value) == period_error("targets", EXPIRY, shown)
    with pytest.raises(MetadataError) as e:
        fields.get_periods(None, "releases", _targets(**{EXPIRY: 30, SIGNING: value}))
    assert str(e.value) == period_error("releases", SIGNING, shown)


def test_periods_within_bounds_and_the_defaults_are_read() -> None:
    assert fields.MAX_PERIOD_DAYS == 3660
    periods = fields.get_periods(None, "targets", _targets(**{EXPIRY: 3660, SIGNING: 1}))
    assert periods == fields.Periods(3660, 1)
    assert fields.get_periods(None, "targets", _targets()) == fields.Periods(365, 182)
    assert fields.get_periods(None, "x", _targets(**{EXPIRY: 10})) == fields.Periods(10, 5)


def test_an_online_role_period_in_root_is_bounded_too() -> None:
    root = Root()
    root.roles["timestamp"].unrecognized_fields[EXPIRY] = 10**8
    with pytest.raises(MetadataError) as e:
        fields.get_periods(root, "timestamp", None)
    assert str(e.value) == period_error("timestamp", EXPIRY, "100000000")


def test_a_huge_expiry_period_on_an_event_is_a_finding(repo: World) -> None:
    # before: OverflowError in timedelta, exit 1
    push_event(repo, "sign/huge", edit_signed("targets", lambda s: s.update({EXPIRY: 10**30})))
    code, found = findings(repo, "sign/huge")
    assert code == 4
    assert {"role": "targets", "code": "periods"} | {
        "message": period_error("targets", EXPIRY, "1e+30")
    } in [{k: f[k] for k in ("role", "code", "message")} for f in found]


def test_an_online_period_of_a_million_years_is_refused_on_an_event(repo: World) -> None:
    # before: status passed it (and online-sign crashed on now + 10**8 days after a merge)
    alice = repo.users["alice"]
    result = alice.tufrepo(
        "delegate", "sign/long", "snapshot", "--expiry", "100000000", "--key", alice.key_uri
    )
    message = period_error("snapshot", EXPIRY, "100000000")
    if result.exit_code == 0:  # pushed: status rejects it
        code, found = findings(repo, "sign/long")
        assert code == 4
        assert message in [f["message"] for f in found]
    else:  # refused before pushing, for the same reason
        assert result.exit_code == 4, out(result)
        assert message in out(result)


def sign_root_on_main(world: World, change: Callable[[Root], None]) -> None:
    """@alice (root's signer) pushes a new root version straight to main."""
    alice = world.users["alice"]
    git(alice.clone, "fetch", "-q")
    git(alice.clone, "checkout", "-q", "-B", "main", "origin/main")
    path = alice.clone / "metadata" / "root.json"
    md = Metadata[Root].from_bytes(path.read_bytes())
    key = next(k for k in md.signed.keys.values() if fields.keyowner(k) == "@alice")
    assert isinstance(key, SSlibKey)
    private = load_pem_private_key(alice.key_path.read_bytes(), None)
    change(md.signed)
    md.signed.version += 1
    md.signatures.clear()
    md.sign(CryptoSigner(private, key))
    data = serialize(md)
    path.write_bytes(data)
    (alice.clone / "metadata" / "root_history" / f"{md.signed.version}.root.json").write_bytes(
        data
    )
    git(alice.clone, "add", "metadata")
    git(alice.clone, "commit", "-q", "-m", "root with a long snapshot period")
    git(alice.clone, "push", "-q", "origin", "main")


def test_online_sign_refuses_a_million_year_period_on_main(repo: World) -> None:
    # before: online-sign crashed on now + 10**8 days (OverflowError, exit 1)
    assert repo.ci_run("online-sign", "--push").exit_code == 0
    sign_root_on_main(
        repo, lambda root: root.roles["snapshot"].unrecognized_fields.update({EXPIRY: 10**8})
    )
    repo.tick(306)  # snapshot (365 days, signing period 60) is due for re-signing
    result = repo.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)
    assert period_error("snapshot", EXPIRY, "100000000") in out(result)
    assert "internal error" not in out(result)


# --- 2. floats in signed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('"x-foo": 1.5', "signed.x-foo"),
        ('"x-foo": NaN', "signed.x-foo"),
        ('"x-foo": {"a": [1, -Infinity]}', "signed.x-foo.a[1]"),
        ('"x-foo": 1e400', "signed.x-foo"),
    ],
)
def test_a_float_in_signed_is_refused_when_parsed(text: str, where: str) -> None:
    data = json.dumps(Metadata(Targets()).to_dict())
    data = data.replace('"_type": "targets"', '"_type": "targets", ' + text)
    with pytest.raises(MetadataError) as e:
        parse_metadata(data.encode(), "metadata/targets.json", "targets")
    assert str(e.value) == (
        f"metadata/targets.json: not valid TUF metadata (floating-point value at {where}; "
        "canonical JSON allows only integers)"
    )


def test_the_float_walk_names_nested_places_and_ignores_integers() -> None:
    md = Metadata(Targets()).to_dict()
    md["signed"]["targets"] = {
        "a.txt": {"length": 1, "hashes": {"sha256": "00"}, "custom": {"n": [1, 2, 3]}},
        "b.txt": {"length": 2.0, "hashes": {"sha256": "00"}},
    }
    with pytest.raises(MetadataError, match=r"floating-point value at signed\.targets\.b\.txt"):
        parse_metadata(json.dumps(md).encode(), "metadata/targets.json", "targets")
    md["signed"]["targets"]["b.txt"]["length"] = 10**40  # big, but an integer
    parse_metadata(json.dumps(md).encode(), "metadata/targets.json", "targets")


def test_a_float_on_an_event_is_a_finding_not_a_crash(repo: World) -> None:
    # before: parsed, then canonical JSON failed with SerializationError (exit 1)
    def nan_field(clone: Path) -> None:
        path = clone / "metadata" / "targets.json"
        data = json.loads(path.read_text())
        data["signed"]["version"] += 1
        data["signed"]["x-weight"] = "PLACEHOLDER"
        path.write_text(json.dumps(data, indent=1, sort_keys=True).replace('"PLACEHOLDER"', "NaN"))

    push_event(repo, "sign/nan", nan_field)
    code, found = findings(repo, "sign/nan")
    assert code == 4
    assert (
        "metadata/targets.json: not valid TUF metadata (floating-point value at "
        "signed.x-weight; canonical JSON allows only integers)"
    ) in [f["message"] for f in found]


# --- 3. bump-expiring ---------------------------------------------------------------------

SHORT_PERIODS = (
    "--expiry", "root=7", "--signing-period", "root=6",
    "--expiry", "targets=7", "--signing-period", "targets=6",
)  # fmt: skip


def bump(world: World) -> tuple[int, dict[str, Any], str]:
    result = world.ci_run("--json", "bump-expiring", "--push")
    data = json.loads(result.stdout.splitlines()[0]) if result.exit_code == 0 else {}
    return result.exit_code, data, out(result)


def test_event_names_stay_readable_when_short_and_fit_any_file_system() -> None:
    assert event_name({"root": 3, "targets": 5}) == "sign/root-v3-targets-v5"
    many = {"root": 3, "targets": 5} | {f"team-{i:02}-release-artifacts": 2 for i in range(20)}
    full = "sign/" + "-".join(f"{role}-v{v}" for role, v in many.items())
    assert len(full) > 255
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    assert event_name(many) == f"sign/expiring-22-roles-{digest}"
    assert event_name(dict(many)) == event_name(many)  # deterministic: reruns are idempotent
    assert event_name({**many, "root": 4}) != event_name(many)
    exactly = {"r" * (100 - len("sign/-v1")): 1}
    assert event_name(exactly) == "sign/" + "r" * 92 + "-v1"
    assert event_name({"r" * 93: 1}).startswith("sign/expiring-1-roles-")


def test_bump_expiring_renews_22_roles_on_one_short_branch(world: World) -> None:
    # before: sign/root-v2-targets-v2-team-00-...: "File name too long", exit 5, no renewal
    alice = world.user("alice")
    assert init_repo(world, alice, *SHORT_PERIODS).exit_code == 0
    world.merge("sign/init")
    teams = [f"team-{i:02}-release-artifacts" for i in range(20)]
    result = alice.tufrepo("delegate", "sign/teams", *teams, "--expiry", "7",
                           "--signing-period", "6", "--key", alice.key_uri)  # fmt: skip
    assert result.exit_code == 0, out(result)
    world.merge("sign/teams")
    world.tick(2)
    code, data, output = bump(world)
    assert code == 0, output
    versions = {"root": 2, "targets": 3} | dict.fromkeys(teams, 2)
    expected = event_name(versions)
    assert expected.startswith("sign/expiring-22-roles-")
    assert data == {"events": [expected]}
    assert f"Opened {expected}: root, targets, team-00-release-artifacts" in output
    assert expected in git(world.origin, "branch", "--list")
    code, data, output = bump(world)
    assert (code, data) == (0, {"events": []}), output
    assert "team-19-release-artifacts v2 already has an open signing event." in output


def test_a_broken_open_event_is_reported_and_ignored(repo: World) -> None:
    world = repo
    alice = world.users["alice"]
    # A fresh repository whose root and targets enter their signing period.
    world.tick(366 - 60)
    # A float version covers nothing (before: 2.0 == 2 counted as "already open"),
    # nor does a file that is not JSON.
    push_event(world, "sign/float", edit_signed("root", lambda s: s.update(version=2.0)))
    push_event(world, "sign/truncated", write_file("metadata/targets.json", "{"))
    code, data, output = bump(world)
    assert code == 0, output
    assert data["events"] == ["sign/root-v2-targets-v2"]
    assert data["ignored"] == [
        {
            "branch": "origin/sign/float",
            "reason": "metadata/root.json: not valid TUF metadata (floating-point value at "
            "signed.version; canonical JSON allows only integers)",
        },
        {
            "branch": "origin/sign/truncated",
            "reason": "metadata/targets.json: not valid TUF metadata (Expecting property "
            "name enclosed in double quotes: line 1 column 2 (char 1))",
        },
    ]
    assert (
        "warning: ignoring the signing event origin/sign/float: metadata/root.json: "
        "not valid TUF metadata (floating-point value at signed.version" in output
    )
    assert "warning: ignoring the signing event origin/sign/truncated: " in output
    assert "already has an open signing event" not in output
    assert alice.sign("sign/root-v2-targets-v2").exit_code == 0


def test_a_broken_event_holding_the_name_gets_a_sibling(repo: World) -> None:
    # before: the push onto the broken branch was refused (exit 5), no renewal
    world = repo
    world.tick(366 - 60)
    push_event(world, "sign/root-v2-targets-v2", write_file("metadata/root.json", "[]"))
    code, data, output = bump(world)
    assert code == 0, output
    assert data["events"] == ["sign/root-v2-targets-v2-2"]
    assert [i["branch"] for i in data["ignored"]] == ["origin/sign/root-v2-targets-v2"]
    code, data, output = bump(world)
    assert (code, data["events"]) == (0, []), output


# --- 4. one deadline for a whole client run ---------------------------------------------

TRICKLE_BYTES = 1000


class FakeClock:
    """Monotonic seconds that move only when told (the trickling server moves them)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += self.step
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@contextlib.contextmanager
def trickling(clock: FakeClock, seconds_per_byte: float = 2.0) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every GET with one byte every 2 s (fake time).

    Each byte sent moves ``clock`` on by ``seconds_per_byte``; the server stops
    at once when the block ends.
    """
    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(TRICKLE_BYTES))
            self.end_headers()
            for _ in range(TRICKLE_BYTES):
                if stop.is_set():
                    return
                try:
                    self.wfile.write(b" ")
                except OSError:  # the client gave up
                    return
                clock.advance(seconds_per_byte)
                stop.wait(0.0005)  # pace the bytes; returns at once on shutdown

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    with Served(Trickle) as served:
        try:
            yield served.url
        finally:
            stop.set()  # before the shutdown: a handler still trickling returns at once


def signed_root() -> bytes:
    signer = CryptoSigner.generate_ed25519()
    md = Metadata(Root(expires=NOW + timedelta(days=365)))
    for role in ("root", "timestamp", "snapshot", "targets"):
        md.signed.add_key(signer.public_key, role)
    md.sign(signer)
    return md.to_bytes()


def gave_up(url: str, seconds: int) -> str:
    return f"gave up on {url}: the client run took longer than {seconds} seconds"


def test_test_client_gives_up_on_a_trickling_first_root() -> None:
    clock = FakeClock()
    with trickling(clock) as url:
        report = run_client_checks(f"{url}/metadata", now=NOW, clock=clock)
        elapsed = clock.now - 1000
    failed = report.failure
    assert failed is not None
    first_root = f"{url}/metadata/1.root.json"
    assert failed.name == "trusted root: 1.root.json (trust on first use)"
    assert failed.detail == (
        f"cannot get the first root from {first_root}: {gave_up(first_root, 300)}"
    )
    assert failed.hint is not None
    assert "--timeout SECONDS (now 300)" in failed.hint
    assert 300 <= elapsed < 300 + 100, "the run ended soon after its deadline"


def test_download_gives_up_on_a_trickling_mirror() -> None:
    clock = FakeClock()
    with trickling(clock) as url, pytest.raises(RejectedError) as e:
        download_target(f"{url}/metadata", None, signed_root(), "a.txt", now=NOW,
                        timeout=60, clock=clock)  # fmt: skip
    assert str(e.value) == (f"a.txt does not verify: {gave_up(f'{url}/metadata/2.root.json', 60)}")
    assert e.value.hint is not None
    assert "--timeout SECONDS (now 60)" in e.value.hint
    assert isinstance(e.value.__cause__, ClientTimeoutError)


def test_the_cli_gives_up_with_exit_4_and_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(tufrepo.client, "monotonic", clock)
    root = tmp_path / "root.json"
    root.write_bytes(signed_root())
    with trickling(clock) as url:
        client = run("test-client", f"{url}/metadata", "--root", str(root), "--timeout", "30")
        download = run("download", "a.txt", "--metadata-url", f"{url}/metadata",
                       "--root", str(root), "--timeout", "30")  # fmt: skip
    message = gave_up(f"{url}/metadata/2.root.json", 30)
    assert client.exit_code == 4, out(client)
    assert f"FAIL refresh from {url}/metadata: {message}" in client.stdout
    assert f"error: refresh from {url}/metadata: {message}" in client.stderr
    hint = (
        "hint: the server sends too slowly or stopped sending; check it, or allow the "
        "whole run more time with --timeout SECONDS (now 30)"
    )
    assert hint in client.stderr
    assert download.exit_code == 4, out(download)
    assert f"error: a.txt does not verify: {message}" in download.stderr
    assert "--timeout SECONDS (now 30)" in download.stderr


def test_the_deadline_spans_the_whole_run_not_each_file(tmp_path: Path) -> None:
    builder = RepoBuilder.create(tmp_path / "repo", NOW)
    store = WorktreeStore(builder.top)
    build_site(TufRepository(store, now=NOW), store, tmp_path / "site", now=NOW)
    root = (tmp_path / "site" / "metadata" / "1.root.json").read_bytes()
    with serve_directory(tmp_path / "site") as url:
        assert run_client_checks(f"{url}/metadata", root_bytes=root, now=NOW).ok
        # every file arrives at once, but each look at the clock is 100 s later
        report = run_client_checks(
            f"{url}/metadata", root_bytes=root, now=NOW, timeout=300, clock=FakeClock(100)
        )
    failed = report.failure
    assert failed is not None
    assert failed.name == f"refresh from {url}/metadata"
    assert failed.detail.startswith(f"gave up on {url}/metadata/")
    assert failed.detail.endswith(": the client run took longer than 300 seconds")
    assert "2.root.json" not in failed.detail, "the first files fit in the deadline"
