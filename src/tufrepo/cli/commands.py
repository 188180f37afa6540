"""The list of commands, in the order ``tufrepo --help`` shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufrepo.cli.delegate import delegate_command
from tufrepo.cli.init import init_command
from tufrepo.cli.online import bump_expiring_command, online_sign_command
from tufrepo.cli.sign import sign_command
from tufrepo.cli.status import status_command
from tufrepo.cli.targets import update_targets_command
from tufrepo.cli.verify import verify_command

if TYPE_CHECKING:
    import click

ALL: list[click.Command] = [
    init_command,
    delegate_command,
    sign_command,
    update_targets_command,
    status_command,
    bump_expiring_command,
    online_sign_command,
    verify_command,
]
