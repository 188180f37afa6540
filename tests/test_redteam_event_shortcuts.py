"""Red team: the #14 shortcuts on the signing-event path.

1. checks/bins.py ``_as_known_good``: a bin unchanged since known good (the
   event's merge-base with main), under the same delegations, is not
   re-checked entry by entry when an event is judged.
2. ops/session.py + ops/artifacts.py ``after_metadata_commit``: repo-sign
   carries known good's entries across its metadata-only commits.

Each test asserts the SAFE outcome: it fails when the attack works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import User, World, git, out
from test_bins import delegate_bins, finding_codes, released, role_json

from tufrepo.checks import bins as checks_bins
from tufrepo.ops import artifacts as ops_artifacts
from tufrepo.ops.bins import bin_for, bin_specs
from tufrepo.ops.session import EventSession

PATH = "releases/app-0.txt"


def _bins_main(world: World) -> User:
    """releases with 4 bins, merged into main and online-signed (a judged state)."""
    alice = released(world)
    delegate_bins(alice, "sign/bins", "4")
    assert world.status("sign/bins")[0] == 0
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    return alice


def _edit(clone: Path, role: str, change: Any) -> None:
    path = clone / "metadata" / f"{role}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _misplace(clone: Path, path: str = PATH) -> tuple[str, str]:
    """Move ``path``'s entry from the bin its hash selects into another bin (work tree only)."""
    specs = bin_specs("releases", 4)
    right = bin_for(specs, path).name
    wrong = next(s.name for s in specs if not s.holds(path))
    entry = json.loads((clone / "metadata" / f"{right}.json").read_text())["signed"]["targets"][
        path
    ]
    _edit(clone, wrong, lambda d: d["signed"]["targets"].update({path: entry}))
    _edit(clone, right, lambda d: d["signed"]["targets"].pop(path))
    return right, wrong


def _no_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks_bins, "_as_known_good", lambda *a, **k: False)


# --- attack 1a: known good is an unjudged commit of a merged event -----------------


def _plant_unjudged_ancestor(world: World, mallory: User, alice: User) -> str:
    """mallory's sign/evil1: C1 misplaces an entry, C2 reverts it and adds an honest
    artifact; the event is signed and merged with a merge commit, so C1 is an
    ancestor of main that no judgement of main ever looked at.  Returns C1."""
    clone = mallory.clone
    git(clone, "fetch", "-q")
    git(clone, "switch", "-q", "-c", "sign/evil1", "origin/main")
    _misplace(clone)
    git(clone, "commit", "-q", "-am", "C1: move app-0 into another bin")
    c1 = git(clone, "rev-parse", "HEAD")
    git(clone, "revert", "--no-edit", "HEAD")
    (clone / "targets" / "releases" / "honest.txt").write_text("honest\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "C2: an honest artifact")
    git(clone, "push", "-q", "origin", "sign/evil1")
    git(clone, "switch", "-q", "main")
    assert world.ci_run("update-targets", "--push", event="sign/evil1").exit_code == 0
    assert alice.sign("sign/evil1").exit_code == 0
    assert world.status("sign/evil1")[0] == 0
    world.merge("sign/evil1")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    git(world.ci, "fetch", "-q")
    assert git(world.ci, "merge-base", "--is-ancestor", c1, "origin/main") == ""
    return c1


def _event_at(mallory: User, event: str, commit: str) -> None:
    git(mallory.clone, "push", "-q", "origin", f"{commit}:refs/heads/{event}")


@pytest.mark.parametrize("shortcut", [True, False], ids=["shortcut", "no-shortcut"])
def test_event_on_unjudged_ancestor_of_main_with_misplaced_entry_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    alice = _bins_main(world)
    mallory = world.user("mallory")
    c1 = _plant_unjudged_ancestor(world, mallory, alice)
    _event_at(mallory, "sign/evil2", c1)  # known good = C1 (the merge-base)
    if not shortcut:
        _no_shortcut(monkeypatch)
    code, status = world.status("sign/evil2")
    # Not ready.  (With the shortcut the misplacement is only `targets-mismatch`,
    # waiting for update-targets, instead of the `wrong-bin` error main reports:
    # the merge-base C1 was never judged.  update-targets re-places the entry.)
    assert code != 0
    misplaced = [f for f in status["findings"] if PATH in f["message"]]
    assert {f["code"] for f in misplaced} & {"wrong-bin", "targets-mismatch"}, status


@pytest.mark.parametrize("shortcut", [True, False], ids=["shortcut", "no-shortcut"])
def test_signer_does_not_sign_on_unjudged_ancestor_with_misplaced_entry(
    world: World, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    """mallory opens sign/evil2 at C1 and asks alice for a routine change (releases' expiry):
    alice's `delegate` judges the event, signs releases and pushes only when it has no errors."""
    alice = _bins_main(world)
    mallory = world.user("mallory")
    c1 = _plant_unjudged_ancestor(world, mallory, alice)
    _event_at(mallory, "sign/evil2", c1)
    if not shortcut:
        _no_shortcut(monkeypatch)
    result = alice.tufrepo(
        "delegate", "sign/evil2", "releases", "--expiry", "90", "--key", alice.key_uri
    )
    git(world.ci, "fetch", "-q")
    pushed = git(world.ci, "rev-parse", "origin/sign/evil2")
    assert (result.exit_code, pushed) == (4, c1), out(result)  # refused: nothing signed or pushed


# --- attack 1b: known good is a hostile commit pushed to main (no keys) ------------


@pytest.mark.parametrize("shortcut", [True, False], ids=["shortcut", "no-shortcut"])
def test_event_on_hostile_main_commit_with_misplaced_entry_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, shortcut: bool
) -> None:
    _bins_main(world)
    mallory = world.user("mallory")
    clone = mallory.clone
    git(clone, "fetch", "-q")
    git(clone, "switch", "-q", "-C", "main", "origin/main")
    _misplace(clone)
    git(clone, "commit", "-q", "-am", "H: move app-0 into another bin")
    git(clone, "push", "-q", "origin", "main")
    # main refuses it (full check) ...
    assert world.ci_run("online-sign", "--push").exit_code == 4
    # ... and a maintainer's routine event from it (releases' expiry), signed by alice
    alice = world.users["alice"]
    if not shortcut:
        _no_shortcut(monkeypatch)
    result = alice.tufrepo(
        "delegate", "sign/next", "releases", "--expiry", "90", "--key", alice.key_uri
    )
    if result.exit_code == 0:
        # what alice signed has the entry back in the bin its hash selects
        right = bin_for(bin_specs("releases", 4), PATH).name
        for spec in bin_specs("releases", 4):
            listed = role_json(world, spec.name, "sign/next")["signed"]["targets"]
            assert (PATH in listed) == (spec.name == right), spec.name
        _code, codes = finding_codes(world, "sign/next")
        assert "wrong-bin" not in codes
    else:
        assert result.exit_code == 4, out(result)


# --- attack 1c-1f: change what the bin means while keeping its bytes ----------------


def _bins_event_from_main(world: World, alice: User, event: str) -> None:
    """An event from main that changes nothing yet (a README edit, outside metadata)."""
    alice.push_files(event, {"NOTES.md": "notes\n"})


def _tamper(user: User, event: str, role: str, change: Any) -> None:
    git(user.clone, "fetch", "-q")
    git(user.clone, "switch", "-q", "-C", event, f"origin/{event}")
    _edit(user.clone, role, change)
    git(user.clone, "commit", "-q", "-am", f"tamper with {role}")
    git(user.clone, "push", "-q", "-f", "origin", event)
    git(user.clone, "switch", "-q", "main")


def _roles(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in d["signed"]["delegations"]["roles"]}


def test_swapping_bin_prefixes_in_the_parent_keeps_bins_checked(world: World) -> None:
    alice = _bins_main(world)
    _bins_event_from_main(world, alice, "sign/swap")

    def swap(d: dict[str, Any]) -> None:
        roles = _roles(d)
        a, b = roles["releases-bin-00"], roles["releases-bin-01"]
        a["path_hash_prefixes"], b["path_hash_prefixes"] = (
            b["path_hash_prefixes"], a["path_hash_prefixes"],
        )  # fmt: skip

    _tamper(alice, "sign/swap", "releases", swap)
    assert role_json(world, "releases-bin-00", "sign/swap") == role_json(world, "releases-bin-00")
    code, codes = finding_codes(world, "sign/swap")
    assert code == 4
    assert "wrong-bin" in codes


def _push_edit(clone: Path, event: str, edit: Callable[[Path], None]) -> None:
    """``edit`` the event's tip in ``clone`` and force-push it (a contributor's push to sign/*)."""
    git(clone, "fetch", "-q")
    git(clone, "switch", "-q", "-C", event, f"origin/{event}")
    edit(clone)
    git(clone, "commit", "-q", "-am", f"edit {event}")
    git(clone, "push", "-q", "-f", "origin", event)
    git(clone, "switch", "-q", "main")


def test_narrowing_the_role_paths_in_targets_keeps_bins_checked(world: World) -> None:
    alice = _bins_main(world)
    _bins_event_from_main(world, alice, "sign/narrow")
    _tamper(
        alice, "sign/narrow", "targets",
        lambda d: _roles(d)["releases"].update({"paths": ["releases/none/*"]}),
    )  # fmt: skip
    code, codes = finding_codes(world, "sign/narrow")
    assert code == 4
    assert "wrong-bin" in codes


def test_renaming_a_bin_to_hold_a_misplaced_entry_keeps_it_checked(world: World) -> None:
    """Swap the two bins' files (names) but leave the delegations: each file is byte-identical
    to known good's file of the *other* name."""
    alice = _bins_main(world)
    _bins_event_from_main(world, alice, "sign/rename")

    def swap_files(clone: Path) -> None:
        a = clone / "metadata" / "releases-bin-00.json"
        b = clone / "metadata" / "releases-bin-01.json"
        ab, bb = a.read_bytes(), b.read_bytes()
        a.write_bytes(bb)
        b.write_bytes(ab)

    _push_edit(alice.clone, "sign/rename", swap_files)
    code, codes = finding_codes(world, "sign/rename")
    assert code == 4
    assert "wrong-bin" in codes


def test_non_terminating_parent_delegation_keeps_bins_checked(world: World) -> None:
    alice = _bins_main(world)
    _bins_event_from_main(world, alice, "sign/term")

    def misplace_and_terminate(clone: Path) -> None:
        _misplace(clone)
        _edit(clone, "targets", lambda d: _roles(d)["releases"].update({"terminating": True}))

    _push_edit(alice.clone, "sign/term", misplace_and_terminate)
    code, codes = finding_codes(world, "sign/term")
    assert code == 4
    assert "wrong-bin" in codes


# --- attack 2: repo-sign's carried entries vs recomputed ------------------------------


def test_entries_carried_across_repo_sign_commits_equal_recomputed_ones(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = _bins_main(world)
    mallory = world.user("mallory")
    mallory.push_files(
        "sign/carry",
        {"targets/releases/app-1.txt": "changed\n", "targets/releases/new.txt": "new\n"},
    )
    assert world.ci_run("update-targets", "--push", event="sign/carry").exit_code == 0
    # then the file changes again without its entry (update-targets not run yet)
    git(mallory.clone, "fetch", "-q")
    git(mallory.clone, "switch", "-q", "-C", "sign/carry", "origin/sign/carry")
    (mallory.clone / "targets" / "releases" / "app-1.txt").write_text("changed again\n")
    (mallory.clone / "targets" / "releases" / "app-2.txt").write_text("changed too\n")
    git(mallory.clone, "commit", "-q", "-am", "swap bytes")
    git(mallory.clone, "push", "-q", "origin", "sign/carry")
    git(mallory.clone, "switch", "-q", "main")

    diffs: list[str] = []
    loads = []
    real_load = EventSession._load

    def checked_load(self: EventSession, known: Any = None) -> None:
        real_load(self, known)
        loads.append(known is not None)
        fresh = ops_artifacts.for_event(
            self.git, self.known_good_rev, self.event.repo.known_good_repo(),
            rev=self.base, overlay=self.store,
        )  # fmt: skip
        kept = self.event.known_artifacts
        assert fresh is not None
        assert kept is not None
        paths = set(fresh.known_good) | set(fresh.current) | set(kept.current)
        diffs.extend(p for p in paths if fresh.entry(p) != kept.entry(p))

    monkeypatch.setattr(EventSession, "_load", checked_load)
    result = alice.sign("sign/carry", "--yes")
    assert diffs == []
    # the mismatching artifacts are never vouched for by repo-sign
    assert result.exit_code != 0 or world.status("sign/carry")[0] != 0, out(result)
