"""The `mirage` command line: `install` (kernelspec), `run` (headless), and bad invocations."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

import mirage_testing as mt
from pngcheck import parse_png

REPO = mt.REPO


def mirage(*args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd=None):
    return subprocess.run(
        [os.environ["MIRAGE_BIN"], *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
    )


def check_spec_dir(spec_dir: Path) -> dict:
    kernel_json = spec_dir / "kernel.json"
    assert kernel_json.is_file(), f"missing {kernel_json}"
    spec = json.loads(kernel_json.read_text())
    binary = Path(os.environ["MIRAGE_BIN"]).resolve()
    argv = spec["argv"]
    assert Path(argv[0]).is_absolute(), argv
    assert Path(argv[0]).resolve() == binary, f"argv[0] {argv[0]} is not this binary {binary}"
    assert argv[1:] == ["kernel", "--connection-file", "{connection_file}"], argv
    assert spec["display_name"] == "Mirage"
    assert spec["language"] == "mirage"
    assert spec["interrupt_mode"] == "message"
    enc = spec["metadata"]["supported_encryption"]
    assert enc == "curve" or "curve" in enc, enc
    for size in (32, 64):
        logo = spec_dir / f"logo-{size}x{size}.png"
        assert logo.is_file(), f"missing {logo.name}"
        png = parse_png(logo.read_bytes())
        assert (png.width, png.height) == (size, size), f"{logo.name} is {png.width}x{png.height}"
    return spec


def test_install_prefix(tmp_path):
    r = mirage("install", "--prefix", str(tmp_path))
    assert r.returncode == 0, r.stderr
    check_spec_dir(tmp_path / "share" / "jupyter" / "kernels" / "mirage")
    # Idempotent: installing again over the top works.
    r = mirage("install", "--prefix", str(tmp_path))
    assert r.returncode == 0, r.stderr
    check_spec_dir(tmp_path / "share" / "jupyter" / "kernels" / "mirage")


def test_install_name(tmp_path):
    r = mirage("install", "--prefix", str(tmp_path), "--name", "mirage-dev")
    assert r.returncode == 0, r.stderr
    check_spec_dir(tmp_path / "share" / "jupyter" / "kernels" / "mirage-dev")
    assert not (tmp_path / "share" / "jupyter" / "kernels" / "mirage").exists()


def test_install_sys_prefix_uses_virtual_env(tmp_path):
    env = {**os.environ, "VIRTUAL_ENV": str(tmp_path / "venv")}
    r = mirage("install", "--sys-prefix", env=env)
    assert r.returncode == 0, r.stderr
    check_spec_dir(tmp_path / "venv" / "share" / "jupyter" / "kernels" / "mirage")


def _real_user_spec_dir() -> Path:
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".local" / "share" / "jupyter" / "kernels" / "mirage"


def test_install_user_goes_to_jupyter_data_dir(tmp_path):
    """--user writes where jupyter_core says the user's data dir is (here: under a fake HOME).

    jupyter_core takes the home directory from $HOME (os.path.expanduser); a kernel that asks the
    password database instead (e.g. Foundation's NSHomeDirectory() on Linux) would write into the
    real user's data dir. If that happens, this test removes what it wrote there and fails.
    """
    real = _real_user_spec_dir()
    existed = real.exists()
    fresh_parents = [d for d in (real.parent.parent, real.parent) if not d.exists()]
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_DATA_DIR", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path)
    expected = subprocess.run(
        [sys.executable, "-c", "from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.strip()
    assert expected.startswith(str(tmp_path))
    r = mirage("install", "--user", env=env)
    assert r.returncode == 0, r.stderr
    if not existed and real.exists():
        shutil.rmtree(real)
        for d in reversed(fresh_parents):
            if d.exists() and not any(d.iterdir()):
                d.rmdir()
        pytest.fail(f"`mirage install --user` ignored HOME={tmp_path} and wrote {real} (removed again)")
    check_spec_dir(Path(expected) / "kernels" / "mirage")


def test_install_user_honours_jupyter_data_dir(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path / "home"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    r = mirage("install", "--user", env=env)
    assert r.returncode == 0, r.stderr
    check_spec_dir(tmp_path / "data" / "kernels" / "mirage")


def test_session_kernelspec_is_found_by_jupyter_client(mirage_kernelspec):
    check_spec_dir(mirage_kernelspec)
    ksm = KernelSpecManager()
    assert ksm.find_kernel_specs()["mirage"] == str(mirage_kernelspec)
    spec = ksm.get_kernel_spec("mirage")
    assert spec.interrupt_mode == "message"
    km = KernelManager(kernel_name="mirage")
    # The check jupyter_client 8.10 makes before provisioning CurveZMQ keys.
    assert km._kernel_supports_curve_encryption()


def test_run_headless(tmp_path):
    script = tmp_path / "smoke.mirage"
    script.write_text('print("hello, world")\n1 + 2\nshow(zeros(8, 8))\n')
    out = tmp_path / "out"
    r = mirage("run", str(script), "--out", str(out))
    assert r.returncode == 0, f"stdout: {r.stdout}\nstderr: {r.stderr}"
    assert "hello, world" in r.stdout
    pngs = sorted(out.glob("**/*.png"))
    assert pngs, f"`show` wrote no PNG into --out {out}: {list(out.glob('**/*'))}"
    for p in pngs:
        parse_png(p.read_bytes())


def test_run_example_hello(tmp_path):
    example = REPO / "Examples" / "hello.mirage"
    if not example.exists():
        pytest.fail(f"{example} is missing")
    r = mirage("run", str(example), "--out", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, f"stdout: {r.stdout}\nstderr: {r.stderr}"
    assert "hello, world" in r.stdout


def test_run_error_exits_nonzero(tmp_path):
    script = tmp_path / "bad.mirage"
    script.write_text('print("before")\nundefined_name\nprint("after")\n')
    r = mirage("run", str(script))
    assert r.returncode != 0
    assert "before" in r.stdout
    assert "after" not in r.stdout
    assert "undefined_name" in r.stderr


def test_run_missing_file_exits_nonzero(tmp_path):
    r = mirage("run", str(tmp_path / "nope.mirage"))
    assert r.returncode != 0
    assert r.stderr.strip()


def test_kernel_without_connection_file_fails():
    r = mirage("kernel", timeout=10)
    assert r.returncode != 0


def test_kernel_with_missing_connection_file_fails(tmp_path):
    r = mirage("kernel", "--connection-file", str(tmp_path / "nope.json"), timeout=10)
    assert r.returncode != 0
    assert r.stderr.strip()


def test_help():
    r = mirage("--help")
    assert r.returncode == 0
    for sub in ("kernel", "install", "run"):
        assert sub in r.stdout


def _kernel_stderr_with_level(tmp_path: Path, spec_dir: Path, level: str) -> str:
    """Run a kernel whose kernelspec adds `--log-level LEVEL`, do a little work, return its stderr."""
    name = f"mirage-log-{level}"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    spec["argv"] = [*spec["argv"], "--log-level", level]
    target = spec_dir.parent / name
    target.mkdir(exist_ok=True)
    (target / "kernel.json").write_text(json.dumps(spec))
    log = tmp_path / f"{level}.log"
    try:
        with open(log, "wb") as f:
            km = KernelManager(kernel_name=name)
            km.start_kernel(stderr=f)
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=mt.STARTUP_TIMEOUT)
                reply = kc.execute_interactive("1 + 2", timeout=mt.TIMEOUT)
                assert reply["content"]["status"] == "ok"
            finally:
                kc.stop_channels()
                km.shutdown_kernel()
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return log.read_text(errors="replace")


def test_kernel_log_level(tmp_path, mirage_kernelspec):
    quiet = _kernel_stderr_with_level(tmp_path, mirage_kernelspec, "error")
    chatty = _kernel_stderr_with_level(tmp_path, mirage_kernelspec, "debug")
    assert chatty.strip(), "--log-level debug logged nothing to stderr"
    assert len(chatty) > len(quiet), "--log-level debug is no chattier than --log-level error"
    assert "execute_request" in chatty or "execute" in chatty.lower()
