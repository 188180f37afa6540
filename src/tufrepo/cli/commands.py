"""The list of commands, in the order ``tufrepo --help`` shows them."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
