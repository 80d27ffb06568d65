"""Packaging checks: the wheel installs into a fresh venv and the stubs match the module."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path


PACKAGE_DIR = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `command`, failing the test with its output when it exits non-zero."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    assert result.returncode == 0, (
        f"{' '.join(command)} exited with {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def test_stubs_match_module() -> None:
    run([sys.executable, "-m", "mypy.stubtest", "elb_py"], cwd=PACKAGE_DIR)


def test_wheel_installs_in_fresh_venv(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheels"
    # A debug build: a release build would recompile every dependency.
    run(
        [str(VENV_BIN / "maturin"), "build", "--quiet", "--out", str(wheel_dir)],
        cwd=PACKAGE_DIR,
    )
    wheels = list(wheel_dir.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel, found {wheels}"
    assert "abi3" in wheels[0].name, f"wheel {wheels[0].name} is not an abi3 wheel"

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    run([str(fresh / "bin" / "pip"), "install", "--quiet", "--no-index", str(wheels[0])])
    result = run(
        [
            str(fresh / "bin" / "python"),
            "-c",
            "import elb_py; "
            "print(elb_py.__version__); "
            "print(elb_py.NotFoundError.__mro__[1].__name__)",
        ],
        cwd=tmp_path,
    )
    version, base = result.stdout.split()
    assert version == elb_py_version()
    assert base == "ElbError"


def elb_py_version() -> str:
    import elb_py

    return elb_py.__version__
