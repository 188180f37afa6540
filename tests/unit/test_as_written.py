"""A manifest artifact's entry must be its line exactly (ops.manifest.as_written)."""

from __future__ import annotations

import pytest
from tuf.api.metadata import TargetFile

from tufrepo.ops.manifest import as_written

SHA = "a" * 64
OTHER = "b" * 128


def entry(
    length: object = 3, hashes: dict[str, str] | None = None, **custom: object
) -> TargetFile:
    target = TargetFile(3, hashes or {"sha256": SHA}, "a.bin", custom or None)
    target.length = length  # type: ignore[assignment]  # as parsed JSON could hold it
    return target


def test_the_same_entry_is_as_written() -> None:
    assert as_written(entry(), entry())
    assert as_written(entry(custom={"a": [1, "x"]}), entry(custom={"a": [1, "x"]}))


@pytest.mark.parametrize(
    ("listed", "line"),
    [
        (entry(length=True), entry(length=1)),  # 1 == True in Python, not in JSON
        (entry(length=4), entry()),
        # Attack: an entry dropping one of the line's hashes (red team, #14)
        (entry(hashes={"sha256": SHA}), entry(hashes={"sha256": SHA, "sha512": OTHER})),
        # Attack: custom fields other than those the signers reviewed
        (entry(custom={"status": True}), entry(custom={"status": 1})),
        (entry(custom={"status": "revoked"}), entry()),
        (entry(), entry(custom={"status": "ok"})),
    ],
)
def test_any_difference_canonical_json_sees_is_not_as_written(
    listed: TargetFile, line: TargetFile
) -> None:
    assert not as_written(listed, line)


def test_custom_fields_without_a_canonical_form_never_match() -> None:
    assert not as_written(entry(custom={"a": "\ud800"}), entry(custom={"a": "\ud800"}))
