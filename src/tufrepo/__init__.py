"""tufrepo: a git-backed TUF repository manager with signing events.

The library (everything outside ``tufrepo.cli``) never prints, prompts or exits;
the command line in ``tufrepo.cli`` is the only user interface.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
