"""Errors that advise (issue #12 item 4, issue #13).

Advice comes from an error and its chain of causes, in one place
(``tufrepo.advice.advise``); the CLI prints ``error:`` and ``hint:``, adds the
causes and the traceback under ``-v``, prints exactly one JSON document on
failure with ``--json``, and shows the library's log warnings as
``warning:`` lines.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run
from git.exc import GitCommandError
from tuf.api.exceptions import DownloadError, ExpiredMetadataError, UnsignedMetadataError

from tufrepo import advice
from tufrepo.advice import advise
from tufrepo.cli import demo
from tufrepo.cli.app import LogLines
from tufrepo.errors import (
    DemoError,
    ExitCode,
    GitStateError,
    RejectedError,
    SignerUnavailableError,
    TufRepoError,
    cause_chain,
)


def raised(outer: TufRepoError, cause: BaseException) -> TufRepoError:
    """``outer`` as ``raise outer from cause`` leaves it."""
    try:
        raise outer from cause
    except TufRepoError as e:
        return e


# --- advice from the cause chain ----------------------------------------------------------


def test_a_rejected_error_caused_by_expired_metadata_gets_the_expiry_advice() -> None:
    error = raised(RejectedError("app.json does not verify"), ExpiredMetadataError("expired"))
    assert error.hint is None
    assert error.cause is error.__cause__
    assert advise(error) == advice.EXPIRED
    assert "tufrepo online-sign" in (advise(error) or "")


def test_advice_is_found_several_causes_down() -> None:
    inner = raised(RejectedError("refresh failed"), UnsignedMetadataError("bad signature"))
    outer = raised(RejectedError("publish check failed"), inner)
    assert [type(e) for e in cause_chain(outer)] == [
        RejectedError,
        RejectedError,
        UnsignedMetadataError,
    ]
    assert advise(outer) == advice.UNSIGNED


def test_the_raisers_own_hint_wins_over_the_cause() -> None:
    error = raised(RejectedError("x", hint="do this"), ExpiredMetadataError("expired"))
    assert advise(error) == "do this"
    assert advise(RejectedError("x", cause=ExpiredMetadataError("e"))) == advice.EXPIRED


def test_a_wrappers_generic_advice_yields_to_a_deeper_cause() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as e:
            raise DownloadError("Failed to download") from e
    except DownloadError as e:
        wrapped = raised(RejectedError("cannot get the first root"), e)
    assert advise(wrapped) == advice.CONNECTION
    assert advise(DownloadError("failed")) == advice.DOWNLOAD


def test_the_implicit_context_counts_unless_suppressed() -> None:
    def read_key(*, suppress: bool) -> None:
        try:
            raise PermissionError(13, "Permission denied", "/keys/k.pem")
        except OSError:
            if suppress:
                raise SignerUnavailableError("cannot read the key") from None
            raise SignerUnavailableError("cannot read the key")  # noqa: B904 - the point

    with pytest.raises(SignerUnavailableError) as suppressed:
        read_key(suppress=True)
    assert advise(suppressed.value) is None
    with pytest.raises(SignerUnavailableError) as implicit:
        read_key(suppress=False)
    assert implicit.value.__cause__ is None  # only __context__ links the two
    assert "/keys/k.pem" in (advise(implicit.value) or "")


class PermissionDenied(Exception):  # noqa: N818 - named like google.api_core's
    pass


class ClientError(Exception):  # shaped like botocore's
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


def missing_module(name: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"No module named '{name}'", name=name)


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        (
            GitStateError("git commit failed"),
            GitCommandError(
                ["git", "commit"],
                128,
                stderr="fatal: Unable to create '/r/.git/index.lock': File exists.",
            ),
            advice.GIT_LOCK,
        ),
        (
            GitStateError("git update-ref failed"),
            GitCommandError(["git", "update-ref"], 128, stderr="error: cannot lock ref 'x'"),
            advice.GIT_LOCK,
        ),
        (
            GitStateError("git push failed"),
            GitCommandError(["git", "push"], 1, stderr=" ! [rejected] main (non-fast-forward)"),
            advice.GIT_MOVED,
        ),
        (
            GitStateError("git push failed"),
            GitCommandError(
                ["git", "push"], 1, stderr=" ! [remote rejected] main (pre-receive hook declined)"
            ),
            advice.GIT_REFUSED,
        ),
        (
            SignerUnavailableError("cannot load signer hsm:2"),
            missing_module("pkcs11"),
            "pip install 'tufrepo[hsm]'",
        ),
        (
            SignerUnavailableError("cannot load signer gcpkms:…"),
            missing_module("google.cloud.kms"),
            "pip install 'tufrepo[gcpkms]'",
        ),
        (SignerUnavailableError("signing failed"), PermissionDenied("403"), advice.KMS_PERMISSION),
        (
            SignerUnavailableError("signing failed"),
            ClientError("AccessDeniedException"),
            advice.KMS_PERMISSION,
        ),
        (
            SignerUnavailableError("signing failed"),
            ClientError("UnrecognizedClientException"),
            advice.KMS_CREDENTIALS,
        ),
        (RejectedError("fetch failed"), ConnectionResetError(104, "reset"), advice.CONNECTION),
        (RejectedError("fetch failed"), TimeoutError("timed out"), advice.TIMEOUT),
        (RejectedError("write failed"), OSError(28, "No space left on device"), advice.DISK_FULL),
    ],
)
def test_common_causes_get_specific_advice(
    error: TufRepoError, cause: BaseException, expected: str
) -> None:
    assert error.hint is None
    assert advise(raised(error, cause)) == expected


def test_file_errors_name_the_file() -> None:
    denied = raised(RejectedError("x"), PermissionError(13, "Permission denied", "/srv/out"))
    assert advise(denied) == (
        "no permission to use /srv/out: check its owner and mode, or work where you may"
    )
    missing = raised(RejectedError("x"), FileNotFoundError(2, "No such file", "/k.pem"))
    assert "/k.pem" in (advise(missing) or "")


def test_an_error_without_advice_has_none() -> None:
    assert advise(RejectedError("x")) is None
    assert advise(ValueError("x")) is None


def test_demo_error_is_one_of_the_hierarchy() -> None:
    assert issubclass(DemoError, TufRepoError)
    assert vars(demo)["DemoError"] is DemoError  # the demo raises the one from errors.py
    assert DemoError("x").exit_code is ExitCode.INTERNAL


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def bad_root(tmp_path: Path) -> Path:
    """A --root file that is not TUF metadata: commands fail before any download."""
    path = tmp_path / "root.json"
    path.write_text("{}")
    return path


def test_the_cli_prints_advice_derived_from_the_cause(
    monkeypatch: pytest.MonkeyPatch, bad_root: Path
) -> None:
    def expired(*_args: object, **_kwargs: object) -> bytes:
        raise RejectedError("app.json does not verify") from ExpiredMetadataError("expired")

    monkeypatch.setattr("tufrepo.client.download_target", expired)
    result = run("download", "app.json", "--metadata-url", "http://x/m", "--root", str(bad_root))
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "error: app.json does not verify",
        f"hint: {advice.EXPIRED}",
    ]


def tufrepo(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "tufrepo", *args],
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip


def test_verbose_prints_the_chain_of_causes_and_the_traceback(bad_root: Path) -> None:
    args = ("download", "app.json", "--metadata-url", "http://127.0.0.1:9/m", "--root")
    quiet = tufrepo(*args, str(bad_root))
    assert quiet.returncode == 4, quiet.stderr
    assert quiet.stderr.startswith("error: app.json does not verify: DeserializationError")
    assert "Traceback" not in quiet.stderr
    assert "caused by:" not in quiet.stderr

    verbose = tufrepo("-v", *args, str(bad_root))
    assert verbose.returncode == 4, verbose.stderr
    lines = verbose.stderr.splitlines()
    assert lines[0] == quiet.stderr.splitlines()[0]  # the error line comes first
    assert lines[1].startswith("caused by: DeserializationError: ")
    assert lines[2].startswith("caused by: KeyError: ")
    assert lines[3] == "Traceback (most recent call last):"
    assert "The above exception was the direct cause of the following exception:" in lines
    assert lines[-1].startswith("tufrepo.errors.RejectedError: app.json does not verify")


def test_json_failure_prints_one_document_after_a_result(bad_root: Path) -> None:
    """test-client gives its result, then fails: still one document, with the error in it."""
    result = run("--json", "test-client", "http://127.0.0.1:9/m", "--root", str(bad_root))
    assert result.exit_code == 4
    document = json.loads(result.stdout)  # exactly one document, nothing else
    assert document["ok"] is False
    assert document["error"] == "trusted root: not TUF metadata (missing 'signed')"
    assert document["hint"] == "pass the root.json you trust with --root"
    assert document["exit_code"] == 4
    assert result.stderr.splitlines()[-2:] == [
        f"error: {document['error']}",
        f"hint: {document['hint']}",
    ]


def test_json_failure_prints_one_document_without_a_result(bad_root: Path) -> None:
    result = run("--json", "download", "app.json", "--metadata-url", "http://x/m",
                 "--root", str(bad_root))  # fmt: skip
    assert result.exit_code == 4
    document = json.loads(result.stdout)
    assert set(document) == {"error", "hint", "exit_code"}
    assert document["error"].startswith("app.json does not verify: DeserializationError")
    assert document["exit_code"] == 4
    usage = run("--json", "download", "app.json")
    assert usage.exit_code == 2
    assert json.loads(usage.stdout) == {
        "error": "Missing option '--metadata-url'.",
        "hint": None,
        "exit_code": 2,
    }


def test_library_warnings_show_as_warning_lines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def noisy(*_args: object, **_kwargs: object) -> bytes:
        log = logging.getLogger("tufrepo.client")
        log.debug("looking closely")
        log.warning("the mirror is stale;\nusing it anyway")
        return b"{}"

    monkeypatch.setattr("tufrepo.client.download_target", noisy)
    root = tmp_path / "root.json"
    root.write_text("{}")
    args = ("download", "app.json", "--metadata-url", "http://x/m", "--root", str(root))
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["warning: the mirror is stale; using it anyway"]
    assert result.stdout == "{}"
    verbose = run("-v", *args)
    assert verbose.stderr.splitlines() == [
        "debug: tufrepo.client: looking closely",
        "warning: tufrepo.client: the mirror is stale; using it anyway",
    ]
    # the run's logging set-up is undone when it ends
    assert not any(isinstance(h, LogLines) for h in logging.getLogger().handlers)
