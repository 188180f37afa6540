"""The published anchor read from a mirror: bounded in time, 404 means "nothing published"."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_robustness import FakeClock, trickling

from tufrepo.errors import GitStateError
from tufrepo.ops.anchor import published_store


def test_a_trickling_mirror_fails_within_the_deadline() -> None:
    # red team: urlopen's timeout bounds each socket wait, not the read
    clock = FakeClock()
    with trickling(clock) as url, pytest.raises(GitStateError) as e:
        published_store(f"{url}/metadata", timeout=60, clock=clock)
    assert "cannot read the published metadata at" in str(e.value)
    assert "took longer than 60 seconds" in str(e.value)
    assert clock.now - 1000 < 60 + 40, "it gave up soon after its deadline"


def test_nothing_published_yet_is_no_anchor(tmp_path: Path) -> None:
    site = tmp_path / "site" / "metadata"
    site.mkdir(parents=True)
    assert published_store(str(site)) is None
