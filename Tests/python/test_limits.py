"""Limits instead of crashes, and the kernel's security posture, through a real client: MemoryError for a
tensor, a model and a batch that are too large (the kernel keeps serving); the bind address; the empty-key
warning; owner-only ipc sockets; kernelspec file modes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import mirage_testing as mt

MODEL = mt.REPO / "Examples" / "models" / "mnist_cnn.onnx"


def assert_memory_error(kc, code: str, *fragments: str) -> None:
    reply, _ = mt.execute(kc, code, timeout=60)
    content = reply["content"]
    assert content["status"] == "error" and content["ename"] == "MemoryError", content
    for fragment in fragments:
        assert fragment in content["evalue"], content["evalue"]
    # The kernel keeps serving, with its state.
    reply, iopub = mt.execute(kc, "kept + 1")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert [m["content"]["data"]["text/plain"] for m in iopub if m["msg_type"] == "execute_result"] == ["42"]


@pytest.fixture(scope="module")
def limited():
    """A kernel with a 600 MB memory limit (MIRAGE_MEMORY_LIMIT), so a large batch hits it quickly."""
    km, kc = mt.start_kernel(env={**os.environ, "MIRAGE_MEMORY_LIMIT": "600M"})
    reply, _ = mt.execute(kc, "kept = 41")
    assert reply["content"]["status"] == "ok"
    yield km, kc
    mt.stop_kernel(km, kc)


def test_huge_tensor_is_a_memory_error(limited):
    assert_memory_error(limited[1], "zeros(100000, 100000)", "zeros()", "too many elements")


def test_model_whose_initializer_claims_terabytes_is_a_memory_error(limited, tmp_path):
    weight = TensorProto(name="huge_weight", data_type=TensorProto.FLOAT, dims=[1_000_000, 1_000_000], raw_data=b"\0" * 16)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "huge_weight"], ["y"])], "huge",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1_000_000])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[weight])
    path = tmp_path / "huge.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert_memory_error(limited[1], f'load("{path}")', "huge_weight", "4.0 TB", "MIRAGE_MEMORY_LIMIT")


def test_batch_too_large_for_the_engine_is_a_memory_error(limited):
    kc = limited[1]
    reply, _ = mt.execute(kc, f'feat = layer(load("{MODEL}"), "features")', timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert_memory_error(kc, "encode(feat, zeros(8000, 1, 28, 28))", "activation", "memory limit of 629.1 MB")
    # A batch that fits still runs afterwards: the failed one gave its memory back.
    reply, _ = mt.execute(kc, "encode(feat, zeros(64, 1, 28, 28)).shape", timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of the TCP sockets process `pid` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append((socket.inet_ntop(family, raw), int(port, 16)))
    return found


def test_binds_only_the_connection_file_address():
    km, kc = mt.start_kernel()
    try:
        info = mt.read_connection_file(km)
        listening = listening_sockets(km.provisioner.process.pid)
        expected = {info[f"{c}_port"] for c in ("shell", "iopub", "stdin", "control", "hb")}
        assert {port for _, port in listening} == expected, listening
        assert {address for address, _ in listening} == {info["ip"]}, listening
    finally:
        mt.stop_kernel(km, kc)


def test_ipc_sockets_are_owner_only():
    km, kc = mt.start_kernel(transport="ipc")
    try:
        info = mt.read_connection_file(km)
        for channel in ("shell", "iopub", "stdin", "control", "hb"):
            mode = stat.S_IMODE(os.stat(f"{info['ip']}-{info[channel + '_port']}").st_mode)
            assert mode == 0o600, f"{channel}: {oct(mode)}"
    finally:
        mt.stop_kernel(km, kc)


def test_empty_key_is_accepted_with_a_warning(tmp_path):
    ports = []
    for _ in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    connection = {"transport": "tcp", "ip": "127.0.0.1", "key": "", "signature_scheme": "hmac-sha256",
                  **dict(zip(["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"], ports))}
    path = tmp_path / "kernel.json"
    path.write_text(json.dumps(connection))
    proc = subprocess.Popen([os.environ["MIRAGE_BIN"], "kernel", "--connection-file", str(path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        from jupyter_client import BlockingKernelClient
        kc = BlockingKernelClient(connection_file=str(path))
        kc.load_connection_file()
        kc.start_channels()
        kc.wait_for_ready(timeout=mt.STARTUP_TIMEOUT)
        reply, _ = mt.execute(kc, "1 + 1")
        assert reply["content"]["status"] == "ok"
        kc.shutdown()
        kc.stop_channels()
        _, stderr = proc.communicate(timeout=30)
        assert "key is empty" in stderr and "not signed" in stderr, stderr
    finally:
        if proc.poll() is None:
            proc.kill()


def test_kernelspec_is_not_world_writable_whatever_the_umask(tmp_path):
    proc = subprocess.run(["sh", "-c", f'umask 000 && exec "{os.environ["MIRAGE_BIN"]}" install --prefix "{tmp_path}"'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    spec = tmp_path / "share" / "jupyter" / "kernels" / "mirage"
    assert stat.S_IMODE(spec.stat().st_mode) == 0o755
    for file in spec.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file


def test_results_are_not_world_writable_whatever_the_umask(tmp_path):
    script = tmp_path / "save.mirage"
    script.write_text(f'save(zeros(2, 2), "{tmp_path}/r.npy")\n')
    proc = subprocess.run(["sh", "-c", f'umask 000 && exec "{os.environ["MIRAGE_BIN"]}" run "{script}"'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / "r.npy").stat().st_mode) & 0o002 == 0
