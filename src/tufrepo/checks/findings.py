"""What a check returns: findings with a severity.

A :class:`Finding` names the role it is about, a stable ``code`` (used by
tests, JSON output and documentation) and a message for people.  Its
:class:`Severity` decides what the command does with it:

* ``ERROR`` — the transition is invalid or hostile: exit 4, nothing signed,
  pushed or written;
* ``WAITING`` — valid so far but not finished (``update-targets`` still to
  run): exit 3 on an event, an error on main, where nothing may be unfinished;
* ``WARNING`` — shown to people, never blocking.

Not for: deciding which checks run (see :mod:`tufrepo.checks.transition`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    """How much a finding matters (see module docstring)."""

    ERROR = "error"
    WAITING = "waiting"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One thing found in a role (``role`` is "" for repository-wide findings)."""

    role: str
    code: str
    message: str
    severity: Severity = Severity.ERROR

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {
            "role": self.role,
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
        }

    def __str__(self) -> str:
        return f"{self.role or 'repository'}: {self.message}"


def errors(findings: list[Finding]) -> list[Finding]:
    """The findings that make a transition invalid."""
    return [f for f in findings if f.severity is Severity.ERROR]


def waiting(findings: list[Finding]) -> list[Finding]:
    """The findings that make an event wait."""
    return [f for f in findings if f.severity is Severity.WAITING]


def warnings(findings: list[Finding]) -> list[Finding]:
    """The findings shown but never blocking."""
    return [f for f in findings if f.severity is Severity.WARNING]


def unique(findings: list[Finding]) -> list[Finding]:
    """Findings without duplicates, in their first order."""
    return list(dict.fromkeys(findings))
