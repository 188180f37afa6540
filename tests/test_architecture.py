"""The package's architecture, checked: no import cycles between tufrepo's modules.

``test_no_import_cycles`` counts only imports that run when a module loads
(module level, outside ``if TYPE_CHECKING:``); ``test_no_import_cycles_counting_lazy_imports``
counts every import statement, including deliberate lazy loads inside
functions, so that a lazy import never hides a cycle (issue #12: the signer
backends and their registry imported each other). The signer registry loads
its backends by module name, never by an import statement, and the backends
import only ``tufrepo.signers.base``. Run alone with ``pytest tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

from tufrepo.cli.commands import COMMANDS

SRC = Path(__file__).resolve().parent.parent / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load_time_imports(tree: ast.Module, package: str) -> set[str]:
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, ast.Try | ast.If) else [node]:
            if isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names)
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1])
                    base = f"{base}.{sub.module}" if sub.module else base
                found.add(base)
                found.update(f"{base}.{a.name}" for a in sub.names)
    return {name for name in found if name.startswith("tufrepo")}


def _all_imports(tree: ast.Module, package: str) -> set[str]:
    """Every tufrepo module an import statement anywhere in ``tree`` names (lazy ones too)."""
    found: set[str] = set()
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Import):
            found.update(a.name for a in sub.names)
        elif isinstance(sub, ast.ImportFrom):
            base = sub.module or ""
            if sub.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1])
                base = f"{base}.{sub.module}" if sub.module else base
            found.add(base)
            found.update(f"{base}.{a.name}" for a in sub.names)
    return {name for name in found if name.startswith("tufrepo")}


def import_graph(*, lazy: bool = False) -> dict[str, set[str]]:
    """Module -> the tufrepo modules it imports when it loads (``lazy``: or ever)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        imported = _all_imports(tree, package) if lazy else _load_time_imports(tree, package)
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by a depth-first search (one per back edge)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_cycles_counting_lazy_imports() -> None:
    graph = import_graph(lazy=True)
    assert "tufrepo.signers.base" in graph["tufrepo.signers.hsm"], "lazy imports are counted"
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_signer_backends_import_the_base_not_the_registry() -> None:
    from tufrepo.signers import BACKENDS  # noqa: PLC0415
    from tufrepo.signers.base import Backend  # noqa: PLC0415

    graph = import_graph(lazy=True)
    assert set(BACKENDS.values()) >= {"tufrepo.signers.file", "tufrepo.signers.hsm"}
    for module_name in sorted(set(BACKENDS.values())):
        assert "tufrepo.signers" not in graph[module_name], f"{module_name} imports the registry"
        assert "tufrepo.signers.base" in graph[module_name]
        assert isinstance(importlib.import_module(module_name).BACKEND, Backend)


def test_the_cli_loads_no_signer_backend() -> None:
    # The registry imports a backend only when a URI of its scheme is used, so
    # sigstore-python stays unloaded too. (securesystemslib.signer itself imports
    # every installed KMS SDK and python-pkcs11 when it loads: not ours to avoid.)
    code = (
        "import sys, tufrepo.cli, tufrepo.cli.common, tufrepo.signers\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tufrepo.signers.', 'sigstore'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['tufrepo.signers.base']"


def test_sigstore_support_loads_with_the_first_sigstore_key() -> None:
    # #14: the CLI registers Sigstore's key type at start-up; importing the
    # backend (0.1 s) waits until metadata holds a Sigstore key.
    code = (
        "import sys\n"
        "from securesystemslib.signer import CryptoSigner, Key\n"
        "from tufrepo.signers import sigstore_lazy\n"
        "sigstore_lazy.register(None)\n"
        "key = CryptoSigner.generate_ed25519().public_key\n"
        "Key.from_dict(key.keyid, key.to_dict())\n"
        "print('tufrepo.signers.sigstore' in sys.modules)\n"
        "sigstore = {'keytype': 'sigstore-oidc', 'scheme': 'Fulcio',\n"
        "            'keyval': {'identity': 'a@example.com', 'issuer': 'https://issuer'}}\n"
        "print(type(Key.from_dict('ab' * 32, sigstore)).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "InstanceSigstoreKey"]


def _asks_the_user(node: ast.AST) -> str | None:
    """What in ``node`` reads the terminal: stdin, getpass, input() or click."""
    if isinstance(node, ast.Attribute) and node.attr == "stdin":
        return "stdin"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "input":
        return "input()"
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        for name in names:
            if name and name.split(".")[0] in ("getpass", "click"):
                return f"import {name}"
    return None


def test_the_library_never_reads_stdin_or_prompts() -> None:
    # Guideline 11 and issue #12: the CLI supplies the SecretsHandler and decides
    # how to ask for a PIN; the library never falls back to stdin itself.
    library = [p for p in SRC.rglob("*.py") if "cli" not in p.relative_to(SRC).parts]
    offenders = [
        f"{p.relative_to(SRC)}:{node.lineno}: {found}"
        for p in library
        for node in ast.walk(ast.parse(p.read_text()))
        if (found := _asks_the_user(node)) and isinstance(node, ast.stmt | ast.expr)
    ]
    assert not offenders, offenders


# Issue #14 (start-up): `--help` and `--version` are read by people and by CI
# wrappers; they must not pay for GitPython, python-tuf or securesystemslib's
# signers, which load every installed KMS SDK (up to a second with the extras).
_HEAVY = ("git", "tuf", "sigstore", "google", "boto3", "botocore", "azure", "PyKCS11", "pkcs11")
_LOADED = (
    "import sys\n"
    "from tufrepo.cli import {entry}\n"
    "sys.argv = {argv!r}\n"
    "try:\n"
    "    {entry}()\n"
    "except SystemExit:\n"
    "    pass\n"
    "heavy = {heavy!r}\n"
    "print(sorted(m for m in sys.modules\n"
    "             if m.split('.')[0] in heavy or m.startswith('securesystemslib.signer')))\n"
)


def _heavy_modules_after(entry: str, *args: str) -> str:
    code = _LOADED.format(entry=entry, argv=["tufrepo", *args], heavy=_HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_help_and_version_load_no_heavy_module() -> None:
    runs: list[tuple[str, ...]] = [
        ("main", "--version"),
        ("main", "--help"),
        ("sign_main", "--help"),
    ]
    runs += [("main", command, "--help") for command in COMMANDS]
    loaded = {" ".join(run[1:]) + f" ({run[0]})": _heavy_modules_after(*run) for run in runs}
    assert loaded == dict.fromkeys(loaded, "[]")


def test_the_heavy_module_check_sees_a_command_that_runs() -> None:
    # The check above would pass vacuously if the wrapper never ran anything.
    assert "'tuf" in _heavy_modules_after("main", "--json", "verify")
