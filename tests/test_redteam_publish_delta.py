"""Red team of publish judged by what changed since a state judged in full (#14).

Shortcuts attacked: ``publish_site`` building with ``known_good=judged_base``
(``targets_infos`` versions from main's snapshot, ``_stage_artifacts`` reading
only roles that own a file or changed, ``listed_in_manifests``'s text search,
``resolved_before``, ``_in_site``) and the status page's
``read_for_display`` -> ``parsing.parse_header``.

Attackers: push to ``sign/*``, push to ``main`` (no keys), whoever can write
the previous publish output (OUT) that publish takes as its anchor.  Every
test asserts the SAFE outcome: it fails when the attack works.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import User, World, git, out, run
from test_bins import ARTIFACTS, delegate_bins, released, role_json

from tufrepo.core.repository import TufRepository
from tufrepo.core.store import OverlayStore
from tufrepo.ops.bins import bin_for, bin_specs
from tufrepo.ops.manifest import listed_in_manifests, manifest_path

BINS = 16  # 8 files in git over 16 bins: some bins own no file (never read by publish)
SPECS = list(bin_specs("releases", BINS))


def _bin_of(path: str) -> str:
    return str(bin_for(SPECS, path).name)


def _fileless_bins() -> list[str]:
    owned = {_bin_of(p.removeprefix("targets/")) for p in ARTIFACTS}
    return [s.name for s in SPECS if s.name not in owned]


def _binned(world: World) -> User:
    """releases in 16 bins, merged and online-signed: a vouched main."""
    alice = released(world)
    delegate_bins(alice, "sign/bins", str(BINS))
    assert world.ci_run("update-targets", "--push", event="sign/bins").exit_code == 0
    assert alice.sign("sign/bins").exit_code == 0
    assert world.status("sign/bins")[0] == 0
    world.merge("sign/bins")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    return alice


def _one_more(world: World, alice: User, name: str) -> None:
    """An honest event adding one artifact, merged and online-signed."""
    event = f"sign/{name}"
    alice.push_files(event, {f"targets/releases/new/{name}.txt": f"{name}\n"})
    assert world.ci_run("update-targets", "--push", event=event).exit_code == 0
    assert alice.sign(event).exit_code == 0
    assert world.status(event)[0] == 0
    world.merge(event)
    assert world.ci_run("online-sign", "--push").exit_code == 0


def _publish(world: World, site: Path) -> None:
    git(world.ci, "fetch", "-q", "origin")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    result = run("-C", str(world.ci), "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)


def _tree(site: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()
    }


def _summary_row(page: str, role: str) -> str:
    match = re.search(rf'<tr class="[^"]*" data-role="{re.escape(role)}">.*?</tr>', page)
    assert match is not None, f"no row for {role}"
    return match.group(0)


# --- 1. the status page's header fast path ------------------------------------------
#
# FINDING.  parse_header reads version and expiry from the lines of a role's
# file indented by two spaces, trusting that the file is laid out as
# serialize() writes it.  Nothing checks that layout: signatures cover only
# the canonical ``signed``, and parse_metadata takes JSON with duplicate keys
# (the last one wins, for tufrepo and for python-tuf/tuf-js clients alike).  So
# whoever can push to main, with no key at all, rewrites a bin's file with
# decoy ``"version": 999`` / ``"expires": "2099-…"`` lines first and the real
# ones last, written ``"version":1`` (no space: not a header line).  Every
# judgement accepts it (same signed content, signatures valid), online-sign
# vouches for it at its next snapshot, and from then on the bin is "unchanged
# since judged": the status page shows the decoys (version 999, expiry 2099,
# "valid", a link to 999.<bin>.json that does not exist).


def test_status_page_shows_the_version_and_expiry_a_bin_really_has(world: World) -> None:
    alice = _binned(world)
    site = world.root / "site"
    _publish(world, site)  # the site earlier publishes wrote (the anchor next time)
    victim = _fileless_bins()[0]
    evil = world.attacker()
    path = evil / "metadata" / f"{victim}.json"
    data = path.read_bytes()
    real = json.loads(data)["signed"]
    crafted = data.replace(b'\n  "version": ', b'\n  "version":').replace(
        b'\n  "expires": "',
        b'\n  "expires": "2099-01-01T00:00:00Z",\n  "version": 999,\n  "expires":"',
    )
    assert json.loads(crafted)["signed"] == real  # what clients and tufrepo parse
    path.write_bytes(crafted)
    git(evil, "commit", "-q", "-am", "reformat a bin (no key needed)")
    git(evil, "push", "-q", "origin", "HEAD:main")
    _one_more(world, alice, "r2")  # the next snapshot vouches for main, decoys included
    _publish(world, site)
    row = _summary_row((site / "index.html").read_text(), victim)
    assert f"<td>{real['version']}</td>" in row, row
    assert f"metadata/{real['version']}.{victim}.json" in row, row
    assert real["expires"][:10] in row, row
    assert "2099" not in row, row
    assert (site / "metadata" / f"{real['version']}.{victim}.json").is_file()


# --- 2. the shortcut publishes what the full judgement publishes --------------------


def _no_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish as before #14's delta: no known good counts as judged in full."""
    monkeypatch.setattr(
        TufRepository,
        "known_good_judged",
        property(lambda self: False, lambda self, v: None),
        raising=False,
    )


def test_publish_by_change_writes_the_site_a_full_publish_writes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over an honest previous site, and over one whose unchanged bins were swapped.

    Whoever writes OUT (the anchor publish takes from it) swaps two unchanged
    bins' files and serves an older snapshot: publish must still write the
    checkout's bytes under the checkout's versions, or refuse.
    """
    alice = _binned(world)
    first = world.root / "first"
    _publish(world, first)
    _one_more(world, alice, "r2")
    honest, full, hostile, fresh = (world.root / n for n in ("honest", "full", "hostile", "fresh"))
    for copy in (honest, full, hostile):
        shutil.copytree(first, copy)
    a, b = _fileless_bins()[:2]
    meta = hostile / "metadata"
    (va,) = meta.glob(f"*.{a}.json")
    (vb,) = meta.glob(f"*.{b}.json")
    da, db = va.read_bytes(), vb.read_bytes()
    va.write_bytes(db)
    vb.write_bytes(da)
    _publish(world, honest)  # by change: versions from the snapshot, bins not read
    _publish(world, fresh)  # by change, no previous site
    with monkeypatch.context() as m:
        _no_shortcut(m)
        _publish(world, full)
    expected = _tree(full)
    assert _tree(honest) == expected
    assert _tree(fresh) == expected
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    result = run("-C", str(world.ci), "publish", str(hostile), now=world.now)
    assert result.exit_code == 4 or _tree(hostile) == expected, out(result)
    for spec in SPECS:  # every bin at its own version, under its own name
        version = role_json(world, spec.name)["signed"]["version"]
        assert (honest / "metadata" / f"{version}.{spec.name}.json").read_bytes() == (
            world.ci / "metadata" / f"{spec.name}.json"
        ).read_bytes()


# --- 3. manifest artifacts found by the text search ---------------------------------


def _manifest_store(lines: list[str]) -> OverlayStore:
    store = OverlayStore()
    store.write(manifest_path("releases"), ("\n".join(lines) + "\n").encode())
    return store


def _entry(path: str, **extra: object) -> str:
    return json.dumps({"path": path, "length": 1, "hashes": {"sha256": "0" * 64}, **extra})


@pytest.mark.parametrize("many", [False, True], ids=["needle-search", "one-pass"])
def test_only_a_valid_lines_own_path_makes_an_entry_a_manifest_artifact(many: bool) -> None:
    """Decoys: a "path" inside custom, a path in another case, an invalid line, a value."""
    lines = [
        _entry("releases/real.bin", custom={"path": "releases/ghost.bin"}),
        _entry("releases/Upper.bin"),
        _entry("releases/bad.bin", extra=1),  # an unknown field: not a valid line
        _entry("releases/note.bin", custom={"note": "releases/value.bin"}),
        '{"path" : "releases/spaced.bin", "length": 1, "hashes": {"sha256": "' + "0" * 64 + '"}}',
    ]
    wanted = [
        "releases/real.bin",
        "releases/ghost.bin",
        "releases/upper.bin",
        "releases/bad.bin",
        "releases/value.bin",
        "releases/spaced.bin",
    ]
    if many:  # past _FEW paths: the one-pass regex over every "path" key
        wanted += [f"releases/filler-{i}.bin" for i in range(20)]
    found = listed_in_manifests(_manifest_store(lines), wanted)
    assert found == {"releases/real.bin", "releases/spaced.bin"}


# --- 4. a file deleted from main without keys ---------------------------------------


def _lonely_file() -> str:
    """A file in git whose bin owns no other file: publish reads that bin only for it."""
    paths = [p.removeprefix("targets/") for p in ARTIFACTS]
    owners = [_bin_of(p) for p in paths]
    return next(p for p, o in zip(paths, owners, strict=True) if owners.count(o) == 1)


@pytest.mark.parametrize("shortcut", [True, False], ids=["by-change", "full"])
@pytest.mark.parametrize("as_manifest_line", [False, True], ids=["deleted", "moved-to-manifest"])
def test_an_artifact_deleted_on_main_is_not_published_as_missing(
    world: World, monkeypatch: pytest.MonkeyPatch, as_manifest_line: bool, shortcut: bool
) -> None:
    """Push to main, no key: a file removed from git (and its entry copied into a manifest).

    Its bin is unchanged and then owns no file, so publish's _stage_artifacts
    skips it: only the judgement stands between the push and a site without
    the file.  With the entry copied into a manifest line (same length and
    hashes), the signed bin lists exactly what the manifest says.

    FINDING (moved-to-manifest, by-change and full alike, so older than #14's
    delta): publish succeeds, the site drops the file, and clients that find
    the entry download nothing from the site.  A manifest on main is judged
    line by line against the roles, never against who may add lines: an
    artifact the signers signed as a file in git becomes "served elsewhere"
    without any signature.
    """
    _binned(world)
    site = world.root / "site"
    _publish(world, site)
    victim = _lonely_file()
    entry = role_json(world, _bin_of(victim))["signed"]["targets"][victim]
    evil = world.attacker()
    (evil / "targets" / victim).unlink()
    if as_manifest_line:
        line = {"path": victim, "length": entry["length"], "hashes": entry["hashes"]}
        manifest = evil / manifest_path("releases")
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(line) + "\n")
    git(evil, "add", "-A")
    git(evil, "commit", "-q", "-m", "drop an artifact (no key needed)")
    git(evil, "push", "-q", "origin", "HEAD:main")
    git(world.ci, "fetch", "-q", "origin")
    git(world.ci, "checkout", "-q", "-B", "main", "origin/main")
    if not shortcut:
        _no_shortcut(monkeypatch)
    result = run("-C", str(world.ci), "publish", str(site), now=world.now)
    assert result.exit_code == 4, out(result)
    assert list((site / "targets" / Path(victim).parent).glob(f"*.{Path(victim).name}"))
