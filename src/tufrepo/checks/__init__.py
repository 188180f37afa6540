"""The trust model: one judgement of every transition from known good to a candidate.

Usage::

    from tufrepo.checks import judge_event, judge_main, errors

    findings = judge_event(event, changed_files=paths, main=main_store)
    if errors(findings):
        ...  # exit 4

See :mod:`tufrepo.checks.transition` for which rule runs on which path.
"""

from tufrepo.checks.findings import Finding, Severity, errors, waiting, warnings
from tufrepo.checks.transition import judge_event, judge_main

__all__ = [
    "Finding",
    "Severity",
    "errors",
    "judge_event",
    "judge_main",
    "waiting",
    "warnings",
]
