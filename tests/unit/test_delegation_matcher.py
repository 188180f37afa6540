"""The delegation index finds the same first match as scanning every delegation (#14)."""

from __future__ import annotations

import random

from tuf.api.metadata import DelegatedRole

from tufrepo.core.delegations import _Matcher, delegated_path_test


def scan(children: list[DelegatedRole], path: str) -> DelegatedRole | None:
    return next((c for c in children if c.is_delegated_path(path)), None)


def test_the_index_agrees_with_a_scan_over_paths_bins_and_overlaps() -> None:
    rng = random.Random(14)  # noqa: S311 - test data, seeded
    hexdigits = "0123456789abcdef"
    paths = [f"{d}/{rng.randrange(1000)}.bin" for d in ("a", "b", "c") for _ in range(300)]
    for trial in range(40):
        children = []
        for i in range(rng.randrange(1, 12)):
            if rng.random() < 0.5:
                prefixes = sorted(
                    {"".join(rng.choices(hexdigits, k=rng.randrange(0, 3))) for _ in range(3)}
                )
                children.append(DelegatedRole(f"r{i}", [], 1, False, path_hash_prefixes=prefixes))
            else:
                pattern = rng.choice(["a/*", "b/*", "*/1*", "c/5*.bin", "*", "a/?.bin"])
                children.append(DelegatedRole(f"r{i}", [], 1, False, paths=[pattern]))
        matcher = _Matcher(children)
        tests = [delegated_path_test(c) for c in children]
        for path in paths:
            assert matcher.first_match(path) is scan(children, path), (trial, path)
            for child, test in zip(children, tests, strict=True):
                assert test(path) is child.is_delegated_path(path), (trial, path)


def test_compiled_patterns_agree_with_python_tuf_on_globs() -> None:
    # The matcher compiles each fnmatch pattern once; python-tuf's rule is the
    # reference: same segment count, each segment fnmatchcase'd.
    rng = random.Random(1414)  # noqa: S311 - test data, seeded
    patterns = [
        "*", "*/*", "a/*", "a/*/*", "a/b*", "[ab]/?.bin", "[!a]/*", "*.bin", "a/[0-9]*",
        "a/**", "a/\\*", "x/[", "?", "*/", "/a", "a//b", "A/*", "a/*.tar.gz",
    ]  # fmt: skip
    paths = ["", "a", "a/", "/a", "a//b", "A/x", "a/*", "a/b", "a/b/c", "b/1.bin", "c/x.bin",
             "a/1.tar.gz", "x/[", "a/bc", "é/ü", "a/\\*"]  # fmt: skip
    for _ in range(400):
        children = [
            DelegatedRole(f"r{i}", [], 1, False, paths=rng.sample(patterns, rng.randrange(1, 4)))
            for i in range(rng.randrange(1, 5))
        ]
        matcher = _Matcher(children)
        tests = [delegated_path_test(c) for c in children]
        for path in paths:
            assert matcher.first_match(path) is scan(children, path), (
                [c.paths for c in children],
                path,
            )
            for child, test in zip(children, tests, strict=True):
                assert test(path) is child.is_delegated_path(path), (child.paths, path)
