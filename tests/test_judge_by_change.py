"""#14: a change is judged by what it changed since a known good judged in full.

Known good is a state online-sign judged in full, every artifact read (its
signed snapshot vouches for it).  One artifact more in a repository of hash
bins is then judged, listed, signed and online-signed reading the bin it
hashes to and none of the other bins, which are byte-identical to what was
judged.  Each shortcut is tested both ways: the honest change goes through,
and what a full judgement refuses is still refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import User, World, git, out
from test_bins import delegate_bins, released, role_json
from test_manifest import add_manifest, line
from tuf.api.metadata import Delegations, Metadata, TargetFile, Targets

from tufrepo.core.parsing import parse_header, parse_metadata, serialize
from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore
from tufrepo.ops.bins import bin_for, bin_specs
from tufrepo.ops.manifest import clashes_with_files, manifest_path

BINS = 4
EXTERNAL = [f"releases/ext/a{i}.bin" for i in range(12)]  # listed only in the manifest


def _specs() -> list[Any]:
    return list(bin_specs("releases", BINS))


def bin_of(path: str) -> str:
    """The bin a target path hashes to."""
    return str(bin_for(bin_specs("releases", BINS), path).name)


@pytest.fixture
def binned(world: World) -> User:
    """releases in 4 bins, with files in git and lines in a manifest; merged, online-signed."""
    alice = released(world)
    lines = "".join(
        line(path=p, length=i + 1, hashes={"sha256": f"{i:064x}"}, custom={"n": i}) + "\n"
        for i, p in enumerate(EXTERNAL)
    )
    add_manifest(world, "sign/bins", lines)
    delegate_bins(alice, "sign/bins", str(BINS))
    world.land("sign/bins", alice)
    return alice


def _bins_parsed(paths: list[str]) -> set[str]:
    return {Path(p).stem for p in paths if "-bin-" in p}


def _edit_event(user: User, event: str, edit: Any) -> None:
    """``edit(clone)`` on the event's tip, committed and pushed (a push to sign/*)."""
    clone = user.clone
    git(clone, "fetch", "-q")
    git(clone, "switch", "-q", "-C", event, f"origin/{event}")
    edit(clone)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", f"edit {event}")
    git(clone, "push", "-q", "-f", "origin", event)
    git(clone, "switch", "-q", "main")


def _edit_role(clone: Path, role: str, change: Any) -> None:
    path = clone / "metadata" / f"{role}.json"
    data = json.loads(path.read_text())
    change(data["signed"])
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _codes(world: World, event: str) -> tuple[int, list[tuple[str, str]]]:
    code, status = world.status(event)
    return code, [(f["code"], f["message"]) for f in status["findings"]]


# --- the honest change, through every command ----------------------------------------


def test_one_artifact_more_reads_one_bin_through_the_whole_event(
    world: World, binned: User, parsed: list[str]
) -> None:
    path = "releases/new/app-9.txt"
    target = bin_of(path)
    binned.push_files("sign/add", {f"targets/{path}": "nine\n"})
    parsed.clear()
    result = world.ci_run("--json", "update-targets", "--push", event="sign/add")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[-1])["roles"] == [target]
    assert _bins_parsed(parsed) == {target}
    parsed.clear()
    code, status = world.status("sign/add")
    assert code == 3, status["findings"]  # waiting for alice's signature, nothing else
    assert [r["role"] for r in status["roles"]] == [target]
    assert _bins_parsed(parsed) == {target}
    assert binned.sign("sign/add").exit_code == 0
    assert world.status("sign/add")[0] == 0
    world.merge("sign/add")
    parsed.clear()
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert _bins_parsed(parsed) == {target}
    # the snapshot lists every bin at its version: the changed one new, the others as they were
    snapshot = json.loads((world.ci / "metadata" / "snapshot.json").read_text())["signed"]
    for spec in _specs():
        version = role_json(world, spec.name)["signed"]["version"]
        assert snapshot["meta"][f"{spec.name}.json"]["version"] == version
    assert world.ci_run("verify", "--main").exit_code == 0  # the audit: every bin, every state
    site = world.root / "site"
    assert world.ci_run("publish", str(site)).exit_code == 0
    page = (site / "index.html").read_text()
    for spec in _specs():  # each bin with its version, most of them read from their header
        version = snapshot["meta"][f"{spec.name}.json"]["version"]
        assert f"{version}.{spec.name}.json" in page


def test_a_no_op_online_sign_parses_no_bin(world: World, binned: User, parsed: list[str]) -> None:
    parsed.clear()
    assert world.ci_run("online-sign").exit_code == 0
    assert _bins_parsed(parsed) == set()


def test_a_known_good_never_judged_in_full_is_judged_whole(
    world: World, binned: User, parsed: list[str]
) -> None:
    """A merged event online-sign has not judged yet vouches for nothing: every bin is read."""
    binned.push_files("sign/one", {"targets/releases/new/app-8.txt": "eight\n"})
    assert world.ci_run("update-targets", "--push", event="sign/one").exit_code == 0
    assert binned.sign("sign/one").exit_code == 0
    world.merge("sign/one")  # no online-sign after it
    binned.push_files("sign/add", {"targets/releases/new/app-9.txt": "nine\n"})
    parsed.clear()
    assert world.ci_run("update-targets", "--push", event="sign/add").exit_code == 0
    assert _bins_parsed(parsed) == {s.name for s in _specs()}


# --- what a full judgement refuses is still refused ---------------------------------------


def test_an_edited_manifest_entry_in_a_bin_is_refused(world: World, binned: User) -> None:
    """Attack: a bin listing other hashes for a manifest's artifact than the manifest says."""
    victim = EXTERNAL[3]
    binned.push_files("sign/evil", {"targets/releases/new/x.txt": "x\n"})

    def edit(clone: Path) -> None:
        _edit_role(
            clone, bin_of(victim), lambda s: s["targets"][victim]["hashes"].update(sha256="e" * 64)
        )

    _edit_event(binned, "sign/evil", edit)
    code, findings = _codes(world, "sign/evil")
    assert code != 0
    assert any(c == "targets-mismatch" and victim in m for c, m in findings), findings


def test_an_edited_custom_field_of_a_manifest_entry_is_refused(world: World, binned: User) -> None:
    """Attack: custom fields (what clients act on) other than the manifest the signers reviewed."""
    victim = EXTERNAL[5]
    binned.push_files("sign/evil", {"NOTES.md": "n\n"})

    def edit(clone: Path) -> None:
        _edit_role(clone, bin_of(victim), lambda s: s["targets"][victim].update(custom={"n": 99}))

    _edit_event(binned, "sign/evil", edit)
    code, findings = _codes(world, "sign/evil")
    assert code != 0
    assert any(
        c == "targets-mismatch" and "custom fields" in m and victim in m for c, m in findings
    ), findings


@pytest.mark.parametrize("path", [EXTERNAL[2], EXTERNAL[2].upper()], ids=["exact", "case"])
def test_a_file_shadowing_a_manifest_line_is_refused(
    world: World, binned: User, path: str
) -> None:
    """Attack: two descriptions of one path (a new file and an unchanged manifest's line)."""
    binned.push_files("sign/evil", {f"targets/{path}": "shadow\n"})
    result = world.ci_run("update-targets", "--push", event="sign/evil")
    assert result.exit_code == 4
    assert "invalid artifact manifest" in out(result)
    code, findings = _codes(world, "sign/evil")
    assert code == 4
    assert any(c == "manifest-duplicate" for c, _ in findings), findings


def test_a_changed_file_without_update_targets_waits(world: World, binned: User) -> None:
    path = "releases/app-1.txt"
    binned.push_files("sign/edit", {f"targets/{path}": "other bytes\n"})
    code, findings = _codes(world, "sign/edit")
    assert code == 3
    assert any(c == "targets-mismatch" and path in m for c, m in findings), findings
    binned.push_files("sign/gone", {f"targets/{path}": None})
    code, findings = _codes(world, "sign/gone")
    assert code == 3
    assert any(c == "targets-mismatch" and path in m for c, m in findings), findings


def test_a_swapped_artifact_pushed_to_main_is_refused_by_online_sign(
    world: World, binned: User
) -> None:
    """Attack: merge rights on main, no keys: other bytes under a listed path."""
    git(world.ci, "fetch", "-q")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    (world.ci / "targets" / "releases" / "app-2.txt").write_text("evil bytes\n")
    git(world.ci, "commit", "-q", "-am", "swap")
    git(world.ci, "push", "-q", "origin", "main")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4
    assert "releases/app-2.txt" in out(result)


def test_an_unsigned_bin_pushed_to_main_is_refused_by_online_sign(
    world: World, binned: User
) -> None:
    """Attack: a bin re-listed by hand on main (matching the new file) without its signers."""
    path = "releases/new/evil.txt"
    target = bin_of(path)
    binned.push_files("sign/evil", {f"targets/{path}": "evil\n"})
    assert world.ci_run("update-targets", "--push", event="sign/evil").exit_code == 0
    world.merge("sign/evil")  # not signed
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4
    assert target in out(result)
    assert "unsigned" in out(result) or "threshold" in out(result)


def test_a_manifest_line_added_on_main_without_metadata_is_refused(
    world: World, binned: User
) -> None:
    """A changed manifest is judged whole: its new line is not listed in any bin."""
    git(world.ci, "fetch", "-q")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    manifest = world.ci / manifest_path("releases")
    extra = line(path="releases/ext/new.bin", length=3, hashes={"sha256": "f" * 64})
    manifest.write_text(manifest.read_text() + extra + "\n")
    git(world.ci, "commit", "-q", "-am", "a line")
    git(world.ci, "push", "-q", "origin", "main")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4
    assert "releases/ext/new.bin" in out(result)


# --- the manifest clash search ------------------------------------------------------------


class _Files(OverlayStore):
    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(None)
        for path, data in files.items():
            self.write(path, data)


@pytest.mark.parametrize(
    ("listed", "file"),
    [
        ('"releases/APP.bin"', "releases/app.BIN"),  # target paths are ASCII
        ('"releases/\\u0041pp.bin"', "releases/app.bin"),  # a JSON escape: parsed whole
        ('"releases\\/app.bin"', "releases/app.bin"),
        ('"releases/app.bin"', "RELEASES/APP.BIN"),
    ],
)
def test_a_clash_is_found_however_the_manifest_writes_the_path(listed: str, file: str) -> None:
    other = line(path="releases/other.bin", custom={"note": "releases/app.bin"})
    entry = json.loads(line())
    entry_text = json.dumps(entry).replace(json.dumps(entry["path"]), listed)
    text = other + "\n" + entry_text + "\n"
    files = _Files({manifest_path("releases"): text.encode()})
    problems = clashes_with_files(files, [file])
    assert [(p.code, p.line) for p in problems] == [("manifest-duplicate", 2)]


def test_a_path_named_only_in_a_custom_field_is_no_clash() -> None:
    text = line(path="releases/other.bin", custom={"note": "releases/app.bin"}) + "\n"
    files = _Files({manifest_path("releases"): text.encode()})
    assert clashes_with_files(files, ["releases/app.bin"]) == []


def test_unchanged_since_judged_needs_a_judged_known_good(tmp_path: Path) -> None:
    data = b'{"signed": {}}'
    now_files = _Files({"metadata/releases.json": data})
    repo = TufRepository(
        now_files, now=_now(), known_good=_Files({"metadata/releases.json": data})
    )
    assert not repo.unchanged_since_judged("releases")
    repo = TufRepository(
        now_files, now=_now(), known_good=_Files({"metadata/releases.json": data})
    )
    repo.known_good_judged = True
    assert repo.unchanged_since_judged("releases")
    other = TufRepository(
        _Files({"metadata/releases.json": data + b" "}),
        now=_now(),
        known_good=_Files({"metadata/releases.json": data}),
    )
    other.known_good_judged = True
    assert not other.unchanged_since_judged("releases")


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


# --- a role's header, for the status page --------------------------------------------------


def _bin_bytes(**extra: Any) -> bytes:
    signed = Targets(version=3, expires=_now(), targets={})
    signed.targets["a/b.bin"] = TargetFile(5, {"sha256": "0" * 64}, "a/b.bin")
    signed.unrecognized_fields.update(extra)
    return serialize(Metadata(signed))


def test_a_header_is_the_signed_part_without_its_entries() -> None:
    data = _bin_bytes(**{"x-tuf-on-ci-expiry-period": 30, "x-note": "a note"})
    header = parse_header(data)
    full = parse_metadata(data, "metadata/bin.json", "targets").signed.to_dict()
    assert header is not None
    assert header.signed.to_dict() == {**full, "targets": {}}


def test_a_header_reads_the_json_as_parsing_does() -> None:
    """Red team: the page showed decoy lines of a re-laid-out bin; now it reads the JSON."""
    data = _bin_bytes()
    indented = json.dumps(json.loads(data), indent=2).encode()
    header = parse_header(indented)
    assert header is not None
    assert header.signed.version == 3
    decoy = data.replace(b'\n  "version": 3', b'\n  "version": 999,\n  "version":3')
    assert decoy != data
    header = parse_header(decoy)
    assert header is not None
    assert header.signed.version == parse_metadata(decoy, "bin", "targets").signed.version == 3
    delegating = Targets(version=1, expires=_now())
    delegating.delegations = Delegations({}, roles={})
    assert parse_header(serialize(Metadata(delegating))) is None


# --- one manifest line more ----------------------------------------------------------------


def _add_lines(world: World, user: User, event: str, *lines: str) -> None:
    """Start ``event`` from main with ``lines`` appended to the releases manifest."""
    git(world.ci, "fetch", "-q")
    manifest = git(world.ci, "show", f"origin/main:{manifest_path('releases')}") + "\n"
    user.push_files(
        event, {manifest_path("releases"): manifest + "".join(f"{x}\n" for x in lines)}
    )


NEW = "releases/ext/new.bin"


def test_one_manifest_line_more_reads_one_bin_through_the_whole_event(
    world: World, binned: User, parsed: list[str]
) -> None:
    target = bin_of(NEW)
    _add_lines(world, binned, "sign/line", line(path=NEW, length=7, hashes={"sha256": "a" * 64}))
    parsed.clear()
    result = world.ci_run("--json", "update-targets", "--push", event="sign/line")
    assert result.exit_code == 0, out(result)
    assert json.loads(result.stdout.splitlines()[-1])["roles"] == [target]
    assert _bins_parsed(parsed) == {target}
    assert role_json(world, target, "sign/line")["signed"]["targets"][NEW]["length"] == 7
    parsed.clear()
    code, status = world.status("sign/line")
    assert code == 3, status["findings"]
    assert _bins_parsed(parsed) == {target}
    assert binned.sign("sign/line").exit_code == 0
    assert world.status("sign/line")[0] == 0
    world.merge("sign/line")
    parsed.clear()
    assert world.ci_run("online-sign", "--push").exit_code == 0
    assert _bins_parsed(parsed) == {target}
    assert world.ci_run("verify", "--main").exit_code == 0


@pytest.mark.parametrize(
    ("new_line", "code"),
    [
        (
            line(path=EXTERNAL[4].upper(), length=1, hashes={"sha256": "b" * 64}),
            "manifest-duplicate",
        ),
        (
            line(path="releases/app-1.txt", length=1, hashes={"sha256": "b" * 64}),
            "manifest-duplicate",
        ),
        (line(path="other/x.bin", length=1, hashes={"sha256": "b" * 64}), "manifest-role"),
        (line(path=NEW, length=1, hashes={"sha256": "B" * 64}), "manifest-bad-hash"),
        ('{"path": "releases/ext/x.bin", "length": 1, "length": 2}', "manifest-malformed"),
    ],
    ids=["same-path-but-case", "a-file", "another-roles-path", "bad-hash", "duplicate-key"],
)
def test_a_hostile_new_manifest_line_is_refused(
    world: World, binned: User, new_line: str, code: str
) -> None:
    _add_lines(world, binned, "sign/evil", new_line)
    result = world.ci_run("update-targets", "--push", event="sign/evil")
    assert result.exit_code == 4
    assert "invalid artifact manifest" in out(result)
    status_code, findings = _codes(world, "sign/evil")
    assert status_code == 4
    assert any(c == code for c, _ in findings), findings


def test_a_changed_or_removed_manifest_line_waits_for_update_targets(
    world: World, binned: User
) -> None:
    git(world.ci, "fetch", "-q")
    text = git(world.ci, "show", f"origin/main:{manifest_path('releases')}") + "\n"
    first, second = text.splitlines()[:2]
    changed = json.dumps({**json.loads(first), "length": 999})
    edited = text.replace(first, changed).replace(second + "\n", "")
    binned.push_files("sign/edit", {manifest_path("releases"): edited})
    code, findings = _codes(world, "sign/edit")
    assert code == 3
    assert any(c == "targets-mismatch" and EXTERNAL[0] in m for c, m in findings), findings
    assert any(c == "targets-mismatch" and EXTERNAL[1] in m for c, m in findings), findings
    assert world.ci_run("update-targets", "--push", event="sign/edit").exit_code == 0
    assert binned.sign("sign/edit").exit_code == 0
    assert world.status("sign/edit")[0] == 0
    assert (
        EXTERNAL[1] not in role_json(world, bin_of(EXTERNAL[1]), "sign/edit")["signed"]["targets"]
    )


def test_a_new_lines_custom_fields_are_held_to_the_manifest(world: World, binned: User) -> None:
    """Attack: update-targets ran, then the bin's entry for the new line got other custom fields."""
    _add_lines(world, binned, "sign/line", line(path=NEW, length=7, hashes={"sha256": "a" * 64}))
    assert world.ci_run("update-targets", "--push", event="sign/line").exit_code == 0

    def edit(clone: Path) -> None:
        _edit_role(clone, bin_of(NEW), lambda s: s["targets"][NEW].update(custom={"evil": 1}))

    _edit_event(binned, "sign/line", edit)
    code, findings = _codes(world, "sign/line")
    assert code != 0
    assert any(c == "targets-mismatch" and "custom fields" in m for c, m in findings), findings


def test_an_artifact_moved_out_of_git_needs_its_roles_signers(world: World, binned: User) -> None:
    """Attack: a signed file deleted from git and listed, as it was, in the unchanged manifest."""
    victim = "releases/app-3.txt"
    entry = role_json(world, bin_of(victim))["signed"]["targets"][victim]
    moved = line(path=victim, length=entry["length"], hashes=entry["hashes"])
    git(world.ci, "fetch", "-q")
    text = git(world.ci, "show", f"origin/main:{manifest_path('releases')}") + "\n"
    binned.push_files(
        "sign/move", {f"targets/{victim}": None, manifest_path("releases"): text + moved + "\n"}
    )
    code, findings = _codes(world, "sign/move")
    assert code == 4
    assert any(c == "artifact-moved" and victim in m for c, m in findings), findings
