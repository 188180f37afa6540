"""The distribution builds and installs as the README's Install section says, without network.

The README installs from the git repository (`pipx install "git+https://…"`,
`pip install "tufrepo[hsm] @ git+https://…"`): pip builds a wheel from the
source and installs it with its console scripts.  Here the same happens
offline: the wheel is built from a copy of the source with the build backend
already in this environment (``--no-build-isolation``, the ``test`` extra
brings setuptools), and installed with ``--no-deps`` into a fresh virtual
environment that borrows this environment's dependencies (a ``.pth`` line,
so this environment's own editable tufrepo is not seen).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "node_modules", "*.egg-info", "__pycache__",
    ".*_cache", ".hypothesis", "tests", "benchmarks", "metadata", "targets",
)  # fmt: skip


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check",
                           "--no-input", *args], capture_output=True, text=True, check=False,
                          env={"PIP_NO_INDEX": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip


def test_the_build_backend_is_installed() -> None:
    """`--no-build-isolation` builds need the backend pyproject names, in a version it accepts."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for spec in pyproject["build-system"]["requires"]:
        requirement = Requirement(spec)
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed), (spec, installed)
    test_extra = pyproject["project"]["optional-dependencies"]["test"]
    backends = {Requirement(s).name for s in pyproject["build-system"]["requires"]}
    assert backends <= {Requirement(s).name for s in test_extra}, "make test installs it"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "tufrepo"
    shutil.copytree(ROOT, source, ignore=IGNORED)  # never build inside the shared work tree
    out = tmp_path_factory.mktemp("wheel")
    done = _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("tufrepo-*.whl")
    return built


def test_wheel_installs_and_both_programs_run(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    # the dependencies of this environment, as plain path entries (its .pth files are not run)
    (Path(purelib) / "borrowed-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = _pip("--python", str(python), "install", "--no-deps", str(wheel))
    assert done.returncode == 0, done.stdout + done.stderr

    version = metadata.version("tufrepo")
    for program in ("tufrepo", "repo-sign"):
        ran = subprocess.run([str(env_dir / "bin" / program), "--version"],
                             capture_output=True, text=True, check=False)  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert re.search(rf"\b{re.escape(version)}\b", ran.stdout), ran.stdout
    where = subprocess.run([str(python), "-c", "import tufrepo; print(tufrepo.__file__)"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(purelib), "the installed wheel, not the work tree, ran"
    # the package data the CLI needs at run time came along
    assert (Path(purelib) / "tufrepo" / "py.typed").exists()
    assert list((Path(purelib) / "tufrepo" / "resources").iterdir())


def test_readme_installs_from_git_never_from_an_index() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"(?:pipx|pip) install [^\n`]*", text)
    assert any(i.startswith("pipx install") and "git+https://github.com/" in i for i in installs)
    assert any("tufrepo[hsm] @ git+https://github.com/" in i for i in installs)
    from_index = [i for i in installs if "tufrepo" in i and "git+" not in i]
    assert from_index == [], "tufrepo is not on an index: install it from git"
