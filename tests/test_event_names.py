"""Signing-event names: git's own branch-name rules decide (git check-ref-format --branch)."""

from __future__ import annotations

import pytest

from tufrepo.errors import UsageError
from tufrepo.ops.session import check_event_name


@pytest.mark.parametrize("name", ["sign/x", "sign/release-1-4-2-rc-123", "sign/a/b", "sign/v1.2"])
def test_valid_event_names(name: str) -> None:
    check_event_name(name)


@pytest.mark.parametrize(
    "name",
    ["sign/", "main", "sign/.hidden", "sign/a.lock/b", "sign/x.lock", "sign/a\nb", "sign/a\x7f",
     "sign/a..b", "sign/a b", "sign/x@{1}", "sign/a~1", "sign/a:b", "sign//x", "sign/x/"],
)  # fmt: skip
def test_invalid_event_names(name: str) -> None:
    with pytest.raises(UsageError, match="is not a signing-event branch name"):
        check_event_name(name)
