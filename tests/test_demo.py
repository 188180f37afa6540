"""`tufrepo demo` (what `make demo` runs) completes offline and shows every step."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import out, run
from tufjs import check_site_with_both_clients


def test_demo_runs_the_whole_life_cycle(tmp_path: Path) -> None:
    result = run("demo", "--dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, out(result)
    text = result.output
    for line in [
        "[alice] $ tufrepo init sign/init --signer root=@alice --signer root=@bob --threshold root=2",
        "[bob] $ repo-sign sign/init --key file2:bob.pem",
        "**Ready**: every role is signed; the event can be reviewed and merged.",
        "Online sign (snapshot & timestamp): snapshot v1, timestamp v1",
        "OK   download app/v1.0.json (length and hashes verified)",
        '{"image": "example/app@sha256:0000", "version": "1.0"}',
        "Demo finished: the TUF client accepted both releases of the repository.",
    ]:
        assert line in text, line
    assert (tmp_path / "demo" / "site" / "metadata" / "2.targets.json").exists()
    check_site_with_both_clients(tmp_path / "demo" / "site", datetime.now(UTC))


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("mine")
    result = run("demo", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"error: {tmp_path} is not empty" in out(result)
    assert (tmp_path / "x").read_text() == "mine"
