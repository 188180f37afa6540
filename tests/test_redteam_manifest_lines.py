"""Red team of judging a changed manifest line by line (#14, commit 6ac7867).

Shortcut attacked: ``ops.targets.change_since_judged`` with
``ops.manifest.line_changes`` / ``_added_conflicts`` / ``_named``: when known
good was judged in full, a changed manifest is diffed against known good's
copy and only its new lines are parsed and checked; ``checks.rules.
_changed_entries`` and ``ops.targets._update_changed`` judge and rebuild only
the roles owning the changed paths.

Attackers: push to ``sign/*`` (and a release token), push to ``main`` (no
keys).  Every test asserts the SAFE outcome (the finding a full judgement
gives): it fails when the attack works.  ``_full`` is the control: the
judgement without the line-by-line shortcut.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import User, World, git, out
from test_bins import role_json
from test_judge_by_change import EXTERNAL, _codes, _edit_role, bin_of, binned
from test_manifest import line

from tufrepo.ops.manifest import manifest_path

__all__ = ["binned"]  # the fixture, used by name

MANIFEST = manifest_path("releases")
NEW = "releases/ext/new.bin"
SHA512 = "c" * 128


def _full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: no line-by-line shortcut (every manifest read and checked whole)."""
    monkeypatch.setattr("tufrepo.ops.targets.change_since_judged", lambda *a, **k: None)
    monkeypatch.setattr("tufrepo.checks.rules.change_since_judged", lambda *a, **k: None)


def _main_manifest(world: World) -> bytes:
    git(world.ci, "fetch", "-q")
    return git(world.ci, "show", f"origin/main:{MANIFEST}").encode() + b"\n"


def _push_manifest(user: User, event: str, data: bytes) -> None:
    user.push_files(event, {MANIFEST: data})


def _push_main(path: Path, message: str) -> None:
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    git(path, "push", "-q", "origin", "HEAD:main")  # never forced


def _edit_event(user: User, event: str, edit: Any) -> None:
    """``edit(clone)`` on the event's tip, metadata/ and targets/ committed and pushed."""
    clone = user.clone
    git(clone, "fetch", "-q")
    git(clone, "switch", "-q", "-C", event, f"origin/{event}")
    edit(clone)
    git(clone, "add", "-A", "--", "metadata", "targets")
    git(clone, "commit", "-q", "-m", f"edit {event}")
    git(clone, "push", "-q", "-f", "origin", event)
    git(clone, "switch", "-q", "main")


def _has(findings: list[tuple[str, str]], code: str, needle: str = "") -> bool:
    return any(c == code and needle in m for c, m in findings)


# --- 1. main: a hostile manifest in a state that looks online-signed ------------------
#
# On main, HEAD's known good *store* (``repo.known_good``) is the last
# online-signed state of the walk, while the file delta (``known``) is taken
# against the commit main's snapshot vouches for.  A commit of an attacker's
# own that touches metadata/timestamp.json (remove it, then restore the same
# bytes) becomes that last state: its offline metadata is the vouched one,
# so it is "judged" without its artifacts, and line_changes diffs HEAD's
# manifest against the attacker's own copy.


def _hostile_main(world: World, new_text: bytes, how: str) -> None:
    evil = world.attacker()
    manifest = evil / MANIFEST
    stamp = evil / "metadata" / "timestamp.json"
    honest = stamp.read_bytes()
    manifest.write_bytes(new_text)
    if how == "remove-restore":
        stamp.unlink()
        _push_main(evil, "artifacts")
        stamp.write_bytes(honest)
        _push_main(evil, "Online sign (timestamp)")
    else:  # the same signed timestamp, serialised otherwise
        stamp.write_text(json.dumps(json.loads(honest), indent=4))
        _push_main(evil, "Online sign (timestamp)")


@pytest.mark.parametrize("how", ["remove-restore", "reserialised"])
@pytest.mark.parametrize("full", [False, True], ids=["by-change", "full"])
def test_a_hostile_manifest_behind_a_look_alike_online_signed_state_is_refused(
    world: World, binned: User, monkeypatch: pytest.MonkeyPatch, how: str, full: bool
) -> None:
    """Attack: push rights on main: a manifest line no bin lists, duplicate of another."""
    if full:
        _full(monkeypatch)
    text = _main_manifest(world)
    evil = line(path=EXTERNAL[0].upper(), length=66, hashes={"sha256": "e" * 64})
    _hostile_main(world, text + evil.encode() + b"\n", how)
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)
    assert "manifest-duplicate" in out(result) or EXTERNAL[0].upper() in out(result)


@pytest.mark.parametrize("edit", ["hash-swapped", "removed"])
@pytest.mark.parametrize("full", [False, True], ids=["by-change", "full"])
def test_a_manifest_line_rewritten_behind_a_look_alike_state_is_refused(
    world: World, binned: User, monkeypatch: pytest.MonkeyPatch, full: bool, edit: str
) -> None:
    """Attack: a listed line's hash swapped, or the line removed, in the manifest on main.

    The bin still lists the old entry: a full judgement refuses (targets-mismatch).
    """
    if full:
        _full(monkeypatch)
    text = _main_manifest(world).decode()
    first = text.splitlines()[0]
    swapped = json.dumps({**json.loads(first), "hashes": {"sha256": "d" * 64}})
    new = (
        text.replace(first, swapped) if edit == "hash-swapped" else text.replace(first + "\n", "")
    )
    _hostile_main(world, new.encode(), "remove-restore")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 4, out(result)
    assert EXTERNAL[0] in out(result)


# --- 2. a bin entry other than its manifest line -----------------------------------------


@pytest.mark.parametrize("full", [False, True], ids=["by-change", "full"])
def test_a_bin_dropping_a_hash_to_change_custom_fields_is_refused(
    world: World, binned: User, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    """Attack: the line lists sha256 and sha512; the bin lists sha256 only and other custom.

    The custom-field comparison runs only when the hashes are equal; the
    entry comparison checks only the hashes the bin lists.
    """
    if full:
        _full(monkeypatch)
    text = _main_manifest(world)
    new = line(path=NEW, length=7, hashes={"sha256": "a" * 64, "sha512": SHA512}, custom={"s": 1})
    _push_manifest(binned, "sign/line", text + new.encode() + b"\n")
    assert world.ci_run("update-targets", "--push", event="sign/line").exit_code == 0

    def edit(clone: Path) -> None:
        def change(s: dict[str, Any]) -> None:
            s["targets"][NEW]["hashes"] = {"sha256": "a" * 64}
            s["targets"][NEW]["custom"] = {"s": "revoked"}

        _edit_role(clone, bin_of(NEW), change)

    _edit_event(binned, "sign/line", edit)
    signed = binned.sign("sign/line")
    assert signed.exit_code == 0, out(signed)
    code, findings = _codes(world, "sign/line")
    assert code != 0, findings
    assert _has(findings, "targets-mismatch", NEW), findings


@pytest.mark.parametrize("value", [True, 1.0], ids=["true", "float"])
@pytest.mark.parametrize("full", [False, True], ids=["by-change", "full"])
def test_a_bin_with_custom_values_equal_only_in_python_is_refused(
    world: World, binned: User, monkeypatch: pytest.MonkeyPatch, full: bool, value: object
) -> None:
    """Attack: the manifest says {"n": 1}; the bin says {"n": true} (1 == True in Python).

    (1.0 is refused as metadata: canonical JSON has no floats.)
    """
    if full:
        _full(monkeypatch)
    text = _main_manifest(world)
    new = line(path=NEW, length=7, hashes={"sha256": "a" * 64}, custom={"n": 1})
    _push_manifest(binned, "sign/line", text + new.encode() + b"\n")
    assert world.ci_run("update-targets", "--push", event="sign/line").exit_code == 0

    def edit(clone: Path) -> None:
        _edit_role(clone, bin_of(NEW), lambda s: s["targets"][NEW].update(custom={"n": value}))

    _edit_event(binned, "sign/line", edit)
    binned.sign("sign/line")  # refused when the bin is invalid
    code, findings = _codes(world, "sign/line")
    assert code == 4 or _has(findings, "targets-mismatch", NEW), findings
    assert code != 0, findings


def test_a_new_lines_entry_without_its_custom_fields_is_refused(
    world: World, binned: User
) -> None:
    """Attack: the bin lists the new line's artifact with no custom fields at all."""
    text = _main_manifest(world)
    new = line(path=NEW, length=7, hashes={"sha256": "a" * 64}, custom={"status": "revoked"})
    _push_manifest(binned, "sign/line", text + new.encode() + b"\n")
    assert world.ci_run("update-targets", "--push", event="sign/line").exit_code == 0

    def edit(clone: Path) -> None:
        _edit_role(clone, bin_of(NEW), lambda s: s["targets"][NEW].pop("custom"))

    _edit_event(binned, "sign/line", edit)
    code, findings = _codes(world, "sign/line")
    assert code != 0
    assert _has(findings, "targets-mismatch", NEW), findings


def test_a_new_lines_entry_with_another_length_is_refused(world: World, binned: User) -> None:
    text = _main_manifest(world)
    new = line(path=NEW, length=7, hashes={"sha256": "a" * 64})
    _push_manifest(binned, "sign/line", text + new.encode() + b"\n")
    assert world.ci_run("update-targets", "--push", event="sign/line").exit_code == 0

    def edit(clone: Path) -> None:
        _edit_role(clone, bin_of(NEW), lambda s: s["targets"][NEW].update(length=8))

    _edit_event(binned, "sign/line", edit)
    binned.sign("sign/line")
    code, findings = _codes(world, "sign/line")
    assert code != 0
    assert _has(findings, "targets-mismatch", NEW), findings


# --- 3. hostile new lines, however written ------------------------------------------------

A0 = EXTERNAL[0]
H = "b" * 64


def _raw(path_json: str, *, before: str = "", length: int = 1) -> bytes:
    """A line whose path is written as ``path_json`` (JSON text, escapes as given)."""
    return (
        f'{{{before}"path": {path_json}, "length": {length}, "hashes": {{"sha256": "{H}"}}}}'
    ).encode()


def _first(text: bytes) -> bytes:
    return text.split(b"\n", 1)[0]


def _fresh(i: int) -> bytes:
    return line(path=f"releases/ext/fresh-{i}.bin", hashes={"sha256": H}).encode()


# name -> (new manifest from main's, the finding code a full judgement gives)
VARIANTS: dict[str, tuple[Any, str]] = {
    "cr-copy-of-a-line": (lambda t: t + _first(t) + b"\r\n", "manifest-duplicate"),
    "copy-without-final-newline": (
        lambda t: t + _first(t).replace(b", ", b",  ", 1),
        "manifest-duplicate",
    ),
    "slash-escape": (
        lambda t: t + _raw(json.dumps(A0).replace("/", "\\/")) + b"\n",
        "manifest-duplicate",
    ),
    "unicode-escape-case": (
        lambda t: t + _raw(json.dumps(A0).replace("a0", "\\u00410")) + b"\n",
        "manifest-duplicate",
    ),
    "spaces-around-colon": (
        lambda t: t + _raw(json.dumps(A0.upper())).replace(b'"path":', b'"path"  :\t') + b"\n",
        "manifest-duplicate",
    ),
    "custom-path-key-first": (
        lambda t: t + _raw(json.dumps(A0), before='"custom": {"path": "x"}, ') + b"\n",
        "manifest-duplicate",
    ),
    "many-lines-one-dup": (
        lambda t: (
            t
            + b"".join(_fresh(i) + b"\n" for i in range(20))
            + _raw(json.dumps(A0.upper())).replace(b'"path":', b'"path" :')
            + b"\n"
        ),
        "manifest-duplicate",
    ),
    "many-lines-custom-path-first": (
        lambda t: (
            t
            + b"".join(_fresh(i) + b"\n" for i in range(20))
            + _raw(json.dumps(A0), before='"custom": {"path": "releases/ext/fresh-1.bin"}, ')
            + b"\n"
        ),
        "manifest-duplicate",
    ),
    "two-new-lines-by-case": (
        lambda t: t + _raw(json.dumps(NEW)) + b"\n" + _raw(json.dumps(NEW.upper())) + b"\n",
        "manifest-duplicate",
    ),
    "a-file-but-for-case": (
        lambda t: t + _raw(json.dumps("RELEASES/APP-1.TXT")) + b"\n",
        "manifest-duplicate",
    ),
    "non-utf8-beside-a-dup": (
        lambda t: t + b'{"path": "\xff"}\n' + _raw(json.dumps(A0.upper())) + b"\n",
        "manifest-duplicate",
    ),
    "bom": (lambda t: b"\xef\xbb\xbf" + t, "manifest-malformed"),
    "bare-cr-joined": (
        lambda t: t + _raw(json.dumps(NEW)) + b"\r" + _raw(json.dumps(NEW + "x")) + b"\n",
        "manifest-malformed",
    ),
    "nan-length": (
        lambda t: t + _raw(json.dumps(NEW)).replace(b'"length": 1', b'"length": NaN') + b"\n",
        "manifest-malformed",
    ),
    "duplicate-key-path": (
        lambda t: t + _raw(json.dumps(NEW), before=f'"path": {json.dumps(A0)}, ') + b"\n",
        "manifest-malformed",
    ),
    "blank-line": (lambda t: t + b"\n" + _raw(json.dumps(NEW)) + b"\n", "manifest-malformed"),
    "whitespace-only-line": (lambda t: t + b" \r\n", "manifest-malformed"),
    "float-length": (
        lambda t: t + _raw(json.dumps(NEW)).replace(b'"length": 1', b'"length": 1.0') + b"\n",
        "manifest-bad-length",
    ),
    "dot-segment": (
        lambda t: t + _raw(json.dumps("releases/ext/../x.bin")) + b"\n",
        "manifest-bad-path",
    ),
    "short-hash": (
        lambda t: t + _raw(json.dumps(NEW)).replace(H.encode(), b"ab") + b"\n",
        "manifest-bad-hash",
    ),
    "custom-not-object": (
        lambda t: t + _raw(json.dumps(NEW), before='"custom": [1], ') + b"\n",
        "manifest-bad-custom",
    ),
    "another-roles-path": (
        lambda t: t + _raw(json.dumps("elsewhere/x.bin")) + b"\n",
        "manifest-role",
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_hostile_line_however_written_is_refused(
    world: World, binned: User, variant: str
) -> None:
    make, code = VARIANTS[variant]
    _push_manifest(binned, "sign/evil", make(_main_manifest(world)))
    result = world.ci_run("update-targets", "--push", event="sign/evil")
    assert result.exit_code == 4, out(result)
    status_code, findings = _codes(world, "sign/evil")
    assert status_code == 4, findings
    assert _has(findings, code), findings


def test_a_line_moved_to_the_end_and_another_changed_in_place_is_seen(
    world: World, binned: User
) -> None:
    """Reordering is no change; a line changed in place is, though the set of paths is the same."""
    text = _main_manifest(world).decode()
    lines = text.splitlines()
    changed = json.dumps({**json.loads(lines[1]), "length": 4242})
    edited = "\n".join([*lines[2:], changed, lines[0]]) + "\n"
    _push_manifest(binned, "sign/edit", edited.encode())
    code, findings = _codes(world, "sign/edit")
    assert code == 3, findings
    assert _has(findings, "targets-mismatch", EXTERNAL[1]), findings
    assert not _has(findings, "targets-mismatch", EXTERNAL[0]), findings


# --- 4. removed lines ------------------------------------------------------------------------


def test_a_removed_line_re_added_in_other_case_leaves_no_stale_entry(
    world: World, binned: User
) -> None:
    text = _main_manifest(world).decode()
    first = text.splitlines()[0]
    other = A0.replace("a0", "A0")  # still under releases/
    renamed = first.replace(A0, other)
    _push_manifest(binned, "sign/rename", text.replace(first, renamed).encode())
    code, findings = _codes(world, "sign/rename")
    assert code == 3, findings
    assert _has(findings, "targets-mismatch", A0), findings
    assert world.ci_run("update-targets", "--push", event="sign/rename").exit_code == 0
    assert A0 not in role_json(world, bin_of(A0), "sign/rename")["signed"]["targets"]
    assert other in role_json(world, bin_of(other), "sign/rename")["signed"]["targets"]
    assert binned.sign("sign/rename").exit_code == 0
    assert world.status("sign/rename")[0] == 0


def test_a_removed_line_whose_entry_stays_listed_is_refused_after_signing(
    world: World, binned: User
) -> None:
    """Attack: the line is removed, the bin (signed) still lists the artifact."""
    text = _main_manifest(world).decode()
    third = text.splitlines()[2]
    extra = line(path=NEW, length=7, hashes={"sha256": "a" * 64})
    _push_manifest(binned, "sign/rm", (text.replace(third + "\n", "") + extra + "\n").encode())
    assert world.ci_run("update-targets", "--push", event="sign/rm").exit_code == 0

    def edit(clone: Path) -> None:
        entry = {"length": 3, "hashes": {"sha256": "0" * 64}, "custom": {"n": 2}}
        _edit_role(clone, bin_of(EXTERNAL[2]), lambda s: s["targets"].update({EXTERNAL[2]: entry}))

    _edit_event(binned, "sign/rm", edit)
    binned.sign("sign/rm")
    code, findings = _codes(world, "sign/rm")
    assert code != 0, findings
    assert _has(findings, "targets-mismatch", EXTERNAL[2]), findings


# --- 5. the honest release pipeline -------------------------------------------------------


@pytest.mark.parametrize(
    "rewrite",
    [
        "crlf",
        "reordered",
        "no-final-newline",
        "add-change-remove",
        "file-moved-to-a-line",
        "twenty-new-lines",
    ],
)
def test_an_honest_manifest_change_goes_through(world: World, binned: User, rewrite: str) -> None:
    text = _main_manifest(world).decode()
    lines = text.splitlines()
    files: dict[str, str | bytes | None] = {}
    if rewrite == "crlf":
        files[MANIFEST] = text.replace("\n", "\r\n")
    elif rewrite == "reordered":
        files[MANIFEST] = "\n".join(reversed(lines)) + "\n"
    elif rewrite == "no-final-newline":
        files[MANIFEST] = text.rstrip("\n") + "\n" + line(path=NEW, hashes={"sha256": H})
    elif rewrite == "add-change-remove":
        changed = json.dumps({**json.loads(lines[4]), "custom": {"n": "four"}})
        kept = [changed if i == 4 else x for i, x in enumerate(lines) if i != 5]
        files[MANIFEST] = "\n".join([*kept, line(path=NEW, hashes={"sha256": H})]) + "\n"
    elif rewrite == "twenty-new-lines":  # more than _FEW: found in one pass of _PATH_KEY
        files[MANIFEST] = text + "".join(_fresh(i).decode() + "\n" for i in range(20))
    else:  # an artifact in git moves out of it: the file goes, a line comes
        moved = "releases/app-1.txt"
        files[f"targets/{moved}"] = None
        files[MANIFEST] = text + line(path=moved, length=9, hashes={"sha256": H}) + "\n"
    binned.push_files("sign/honest", files)
    result = world.ci_run("update-targets", "--push", event="sign/honest")
    assert result.exit_code == 0, out(result)
    code, status = world.status("sign/honest")
    findings = [(f["code"], f["message"]) for f in status["findings"]]
    assert code in (0, 3), findings
    assert not [c for c, _ in findings if c.startswith("manifest-")], findings
    if status["state"] != "empty":  # "empty": no metadata to change (the same entries)
        assert binned.sign("sign/honest").exit_code == 0
        code, status = world.status("sign/honest")
        assert code == 0, json.dumps(status)[:3000]
    else:
        assert rewrite in ("crlf", "reordered")
    world.merge("sign/honest")
    result = world.ci_run("online-sign", "--push")
    assert result.exit_code == 0, out(result)
    assert world.ci_run("verify", "--main").exit_code == 0


# --- 6. two manifests: the role's and one of its bins' ------------------------------------

BIN = "releases-bin-00"
BIN_MANIFEST = manifest_path(BIN)
SIDE = "releases/side/s0.bin"  # in BIN


@pytest.fixture
def two(world: World, binned: User) -> User:
    """``binned`` with a second manifest, the bin's own, merged and online-signed."""
    assert bin_of(SIDE) == BIN
    assert bin_of(EXTERNAL[2]) == BIN
    binned.push_files("sign/side", {BIN_MANIFEST: line(path=SIDE, hashes={"sha256": H}) + "\n"})
    world.land("sign/side", binned)
    return binned


def _both(world: World) -> tuple[bytes, bytes]:
    git(world.ci, "fetch", "-q")
    side = git(world.ci, "show", f"origin/main:{BIN_MANIFEST}").encode() + b"\n"
    return _main_manifest(world), side


@pytest.mark.parametrize(
    ("in_role", "in_bin"),
    [
        ("", EXTERNAL[2]),
        ("", EXTERNAL[2].replace("/a", "/A")),
        ("releases/side/S0.bin", ""),
        ("releases/ext/n.bin", "releases/ext/N.bin"),
        ("releases/ext/n.bin", "releases/ext/n.bin"),
    ],
    ids=["bin-dups-role", "bin-dups-role-by-case", "role-dups-bin-by-case", "both-new-by-case",
         "both-new-exact"],
)  # fmt: skip
def test_a_path_listed_in_two_manifests_is_refused(
    world: World, two: User, in_role: str, in_bin: str
) -> None:
    role_text, bin_text = _both(world)
    files: dict[str, str | bytes | None] = {}
    if in_role:
        files[MANIFEST] = role_text + line(path=in_role, hashes={"sha256": H}).encode() + b"\n"
    if in_bin:
        files[BIN_MANIFEST] = bin_text + line(path=in_bin, hashes={"sha256": H}).encode() + b"\n"
    two.push_files("sign/evil", files)
    result = world.ci_run("update-targets", "--push", event="sign/evil")
    assert result.exit_code == 4, out(result)
    code, findings = _codes(world, "sign/evil")
    assert code == 4, findings
    assert _has(findings, "manifest-duplicate"), findings


def test_a_line_moved_from_the_role_to_its_bins_manifest_goes_through(
    world: World, two: User
) -> None:
    role_text, bin_text = _both(world)
    moved = next(x for x in role_text.split(b"\n") if EXTERNAL[2].encode() in x)
    two.push_files(
        "sign/move",
        {MANIFEST: role_text.replace(moved + b"\n", b""), BIN_MANIFEST: bin_text + moved + b"\n"},
    )
    assert world.ci_run("update-targets", "--push", event="sign/move").exit_code == 0
    code, status = world.status("sign/move")
    assert code in (0, 3), status["findings"]
    assert not status["findings"], status["findings"]


# --- 7. main: what a look-alike state lets through gets vouched for ------------------------


def test_a_hostile_manifest_on_main_is_never_vouched_for_by_online_sign(
    world: World, binned: User
) -> None:
    """Attack, continued: the scheduled online-sign signs a timestamp on top of it.

    The refreshed state is then main's known good store: the planted line is
    in "known good's copy" of the manifest and is never checked on main again;
    the next event (judged whole, its merge-base not the vouched tree) has
    update-targets list it beside the honest change.
    """
    text = _main_manifest(world)
    evil = line(path="releases/ext/planted.bin", length=66, hashes={"sha256": "e" * 64})
    _hostile_main(world, text + evil.encode() + b"\n", "remove-restore")
    hostile = git(world.attacker(), "rev-parse", "HEAD")
    world.tick(1.5)  # the timestamp needs refreshing
    result = world.ci_run("online-sign", "--push")
    snapshot = role_json(world, "snapshot")["signed"]
    assert snapshot.get("x-tufrepo-verified-commit") != hostile, snapshot
    assert result.exit_code == 4, out(result)
