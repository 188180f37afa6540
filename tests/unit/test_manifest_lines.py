"""The line search of changed manifests finds what reading every line finds (#14)."""

from __future__ import annotations

import json
import random

import pytest

from tufrepo.ops.manifest import _lines_naming, _numbered


def _line(path: str) -> bytes:
    entry = {"path": path, "length": 1, "hashes": {"sha256": "0" * 64}}
    return json.dumps(entry, ensure_ascii=False).encode()


@pytest.mark.parametrize("count", [0, 1, 3, 16, 17, 40])
def test_new_lines_are_numbered_in_file_order(count: int) -> None:
    rng = random.Random(count)  # noqa: S311 - test data, seeded
    lines = [_line(f"a/{i}.bin") for i in range(500)]
    new = set(rng.sample(lines, count))
    expected = [(n, raw) for n, raw in enumerate(lines, start=1) if raw in new]
    assert _numbered(lines, new) == expected


@pytest.mark.parametrize("count", [1, 2, 16, 17, 60])
def test_lines_naming_finds_each_wanted_path_with_its_number(count: int) -> None:
    rng = random.Random(count)  # noqa: S311 - test data, seeded
    # found by case-folded text: upper-case names are found too
    paths = [f"Up/{i}.BIN" if i % 7 == 0 else f"a/{i}.bin" for i in range(400)]
    data = b"\n".join(_line(p) for p in paths) + b"\n"
    wanted = {p.casefold() for p in rng.sample(paths, count)}
    expected = [(n, p) for n, p in enumerate(paths, start=1) if p.casefold() in wanted]
    assert _lines_naming(data, data.decode().casefold(), wanted) == expected
