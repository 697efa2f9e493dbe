"""Packaging: console scripts resolve, no sys.path edits, the README's script form runs when installed."""
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]


def test_console_scripts_cover_every_cli():
    assert {"jaxar-train", "jaxar-evaluate", "jaxar-summary", "jaxar-prepare", "jaxar-inspect",
            "jaxar-export", "jaxar-predict"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_target_is_a_callable(name):
    module, _, attr = SCRIPTS[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        pytest.skip(f"{module} is not part of this checkout")
    assert callable(getattr(mod, attr)), SCRIPTS[name]


def test_no_sys_path_manipulation():
    offenders = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "build" in path.parts:
            continue
        if re.search(r"sys\.path\.(insert|append)|sys\.path\s*=", path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _installed_from_this_checkout() -> bool:
    """``import jaxar`` from outside the repository finds this checkout."""
    proc = subprocess.run([sys.executable, "-c", "import jaxar; print(jaxar.__file__)"],
                          cwd=ROOT.parent, capture_output=True, text=True, timeout=120)
    return proc.returncode == 0 and Path(proc.stdout.strip()).parent == ROOT / "jaxar"


@pytest.mark.skipif(not _installed_from_this_checkout(),
                    reason="jaxar is not installed from this checkout (pip install -e .)")
def test_readme_script_form_runs_from_the_repository_root():
    proc = subprocess.run([sys.executable, "export/to_trt.py", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--checkpoint" in proc.stdout
