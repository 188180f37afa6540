"""README's "Using tufrepo from Python" example runs, unchanged but for its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import World
from test_safety import two_signer_event

README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDERS = ("my-clone", "/path/to/my-key.pem", "sign/add-release")


def example() -> str:
    """The one Python block of the README section "Using tufrepo from Python"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Using tufrepo from Python", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    assert len(blocks) == 1, "the section has exactly one Python example"
    return str(blocks[0])


def test_the_example_drives_sign_event_without_click(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, _ = two_signer_event(world)
    code = example()
    for placeholder in PLACEHOLDERS:
        assert placeholder in code
    code = (
        code.replace('"my-clone"', repr(str(alice.clone)))
        .replace("/path/to/my-key.pem", str(alice.key_path))
        .replace("sign/add-release", "sign/files")
    )
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README

    assert "click" not in {name.split(".")[0] for name in _imported(code)}
    printed = capsys.readouterr().out
    assert "Signed targets as @alice." in printed  # progress through Handlers(say=print)
    assert printed.splitlines()[-1] == "signed targets as @alice; pushed to origin/sign/files"
    exit_code, status = world.status("sign/files")
    assert exit_code == 3, status  # bob's signature is still missing
    assert status["roles"][0]["signers"]["signed"] == ["@alice"]


def _imported(code: str) -> list[str]:
    return re.findall(r"^(?:from|import) ([\w.]+)", code, re.MULTILINE)
