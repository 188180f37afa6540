"""The size budget: warnings with the fix, errors before clients break, update-targets refusing.

The targets budget is lowered with ``TUFREPO_SIZE_BUDGET`` so that a few
artifacts exercise what 30,000 would do against the clients' 5 MB default.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import World, git, out, run
from test_bins import delegate_bins, released
from tufjs import check_site_with_both_clients

from tufrepo.core import sizes
from tufrepo.errors import ConfigError

BUDGET = 12_000


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(sizes.ENV_VAR, str(BUDGET))
    yield
    sizes.configure(None)


def artifacts(start: int, count: int) -> dict[str, str | bytes | None]:
    return {
        f"targets/releases/v{i}/app-{i}.txt": f"release {i}\n" for i in range(start, start + count)
    }


def budget_findings(status: dict[str, Any]) -> list[dict[str, str]]:
    return [f for f in status["findings"] if f["code"] == "size-budget"]


def test_the_budget_is_the_strictest_client_default_and_can_only_be_lowered() -> None:
    """A raised budget would let us write metadata python-tuf, go-tuf or tuf-js refuse."""
    try:
        assert sizes.budget_for("releases") == 5_000_000
        assert sizes.budget_for("snapshot") == 1_048_576  # tough
        assert sizes.budget_for("timestamp") == 16_384
        sizes.configure("50000000")
        assert sizes.budget_for("releases") == 5_000_000
        sizes.configure("4000")
        assert sizes.budget_for("releases-bin-00") == 4000
        assert sizes.budget_for("root") == 512_000
        for bad in ("", "-1", "0", "lots"):
            with pytest.raises(ConfigError):
                sizes.configure(bad)
    finally:
        sizes.configure(None)


def test_a_bad_budget_setting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sizes.ENV_VAR, "lots")
    result = run("--json", "verify")
    assert result.exit_code == 2
    assert sizes.ENV_VAR in out(result)


def test_warning_with_the_fix_then_update_targets_refuses_then_bins_fix_it(
    world: World, small_budget: None, tmp_path: Path
) -> None:
    alice = released(world, artifacts(0, 30))
    # past half the budget: a warning that names the command that fixes it
    alice.push_files("sign/more", artifacts(30, 10))
    assert world.ci_run("update-targets", "--push", event="sign/more").exit_code == 0
    code, status = world.status("sign/more")
    assert code == 3
    (warning,) = budget_findings(status)
    assert warning["severity"] == "warning"
    assert warning["role"] == "releases"
    assert "tufrepo delegate EVENT releases --bins auto" in warning["message"]
    # past the budget: update-targets refuses to write what clients could not read
    alice.push_files("sign/too-many", artifacts(30, 60))
    git(world.ci, "fetch", "-q", "origin")
    head = git(world.ci, "rev-parse", "origin/sign/too-many")
    result = world.ci_run("update-targets", "--push", event="sign/too-many")
    assert result.exit_code == 4, out(result)
    assert "over the 12,000-byte budget" in out(result)
    assert "--bins auto" in out(result)
    git(world.ci, "fetch", "-q", "origin")
    assert git(world.ci, "rev-parse", "origin/sign/too-many") == head  # nothing committed
    # the fix: bins, chosen from the role's size; then every bin is within budget
    result_json = delegate_bins(alice, "sign/too-many", "auto")
    assert result_json["changed"]
    assert world.ci_run("update-targets", "--push", event="sign/too-many").exit_code == 0
    assert alice.sign("sign/too-many").exit_code == 0
    code, status = world.status("sign/too-many")
    assert code == 0, status["findings"]
    assert budget_findings(status) == []
    world.merge("sign/too-many")
    assert world.ci_run("online-sign", "--push").exit_code == 0
    site = tmp_path / "site"
    result = run("-C", str(world.ci), "--json", "publish", str(site), now=world.now)
    assert result.exit_code == 0, out(result)
    check_site_with_both_clients(site, world.now)


def test_status_and_publish_refuse_a_role_over_the_budget(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Metadata clients refuse is a denial of service for every user: never merged or published."""
    alice = released(world, artifacts(0, 40))
    alice.push_files("sign/more", artifacts(40, 2))
    assert world.ci_run("update-targets", "--push", event="sign/more").exit_code == 0
    # the same repository, judged against a stricter budget
    monkeypatch.setenv(sizes.ENV_VAR, "4000")
    try:
        code, status = world.status("sign/more")
        assert code == 4
        errors = [f for f in budget_findings(status) if f["severity"] == "error"]
        assert errors
        assert errors[0]["role"] == "releases"
        assert "refuse it by default" in errors[0]["message"]
        result = run("-C", str(world.ci), "--json", "publish", str(tmp_path / "site"))
        assert result.exit_code == 4
        assert "size-budget" in result.stdout or "budget" in out(result)
        assert not (tmp_path / "site").exists()
    finally:
        sizes.configure(None)


def test_budget_rule_counts_placeholder_signatures_as_real_ones() -> None:
    assert sizes.expected_size(b"x" * 100, 2) == 100 + 2 * sizes.SIGNATURE_ALLOWANCE
    data = json.dumps({"sig": ""}).encode()
    assert sizes.expected_size(data, 0) == len(data)
