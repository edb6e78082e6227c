"""Shared set-up for the Python suites that drive the `mirage` kernel through real Jupyter clients.

Nothing global is touched: the kernelspec is installed (with `mirage install --prefix`) into a
temporary prefix, JUPYTER_PATH points at it, and the Jupyter runtime/data/config dirs are temporary.
The binary is $MIRAGE_BIN, default `.build/debug/mirage` (scripts/test.sh builds it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mirage_testing as mt  # noqa: E402

_TMP: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point every Jupyter path at a private temp tree before any client code reads them."""
    global _TMP
    _TMP = Path(tempfile.mkdtemp(prefix="mirage-pytest-"))
    prefix = _TMP / "prefix"
    runtime = _TMP / "runtime"
    for d in (prefix, runtime, _TMP / "data", _TMP / "config"):
        d.mkdir(parents=True, exist_ok=True)
    os.environ["MIRAGE_TEST_PREFIX"] = str(prefix)
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    os.environ["JUPYTER_DATA_DIR"] = str(_TMP / "data")
    os.environ["JUPYTER_CONFIG_DIR"] = str(_TMP / "config")
    os.environ.pop("JUPYTER_PREFER_ENV_PATH", None)
    os.environ.setdefault("MIRAGE_BIN", str(mt.DEFAULT_BINARY))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _TMP is not None and not os.environ.get("MIRAGE_KEEP_TEST_TMP"):
        shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def mirage_kernelspec() -> Path:
    """The installed kernelspec directory (autouse: every test needs the kernelspec)."""
    return mt.install_kernelspec()


@pytest.fixture(scope="session")
def mirage_binary() -> Path:
    return Path(os.environ["MIRAGE_BIN"])
