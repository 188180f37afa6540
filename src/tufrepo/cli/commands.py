"""The list of commands, in the order ``tufrepo --help`` shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

ALL: list[click.Command] = []
