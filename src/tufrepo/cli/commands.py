"""The commands, in the order ``tufrepo --help`` shows them, imported only when used.

Each entry maps a command name to ``module:attribute``; loading lazily keeps
``tufrepo --version`` and ``--help`` of one command fast.
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "init": "tufrepo.cli.init:init_command",
    "delegate": "tufrepo.cli.delegate:delegate_command",
    "sign": "tufrepo.cli.sign:sign_command",
    "update-targets": "tufrepo.cli.targets:update_targets_command",
    "status": "tufrepo.cli.status:status_command",
    "bump-expiring": "tufrepo.cli.bump:bump_expiring_command",
    "online-sign": "tufrepo.cli.online:online_sign_command",
    "publish": "tufrepo.cli.publish:publish_command",
    "test-client": "tufrepo.cli.client:test_client_command",
    "download": "tufrepo.cli.client:download_command",
    "verify": "tufrepo.cli.verify:verify_command",
    "open-event": "tufrepo.cli.release:open_event_command",
    "demo": "tufrepo.cli.demo:demo_command",
}
