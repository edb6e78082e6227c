"""Helpers shared by the Python suites: kernelspec install, kernel start-up, message collection,
and a raw ZeroMQ client for hand-crafted frames."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO / ".build" / "debug" / "mirage"
KERNEL_NAME = "mirage"
STARTUP_TIMEOUT = 60
TIMEOUT = 15  # for any single reply

_installed = False
_install_error: str | None = None


def install_kernelspec() -> Path:
    """Run `mirage install --prefix $MIRAGE_TEST_PREFIX` once per session (see conftest.py)."""
    global _installed, _install_error
    prefix = Path(os.environ["MIRAGE_TEST_PREFIX"])
    spec_dir = prefix / "share" / "jupyter" / "kernels" / KERNEL_NAME
    if _installed:
        return spec_dir
    if _install_error:
        pytest.fail(_install_error, pytrace=False)
    binary = Path(os.environ.get("MIRAGE_BIN", DEFAULT_BINARY))
    if not binary.is_file():
        _install_error = f"mirage binary not found at {binary} (run `swift build` or set MIRAGE_BIN)"
        pytest.fail(_install_error, pytrace=False)
    proc = subprocess.run(
        [str(binary), "install", "--prefix", str(prefix)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0 or not (spec_dir / "kernel.json").is_file():
        _install_error = (
            f"`{binary} install --prefix {prefix}` failed (exit {proc.returncode}); "
            f"expected {spec_dir / 'kernel.json'}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
        pytest.fail(_install_error, pytrace=False)
    _installed = True
    return spec_dir


def start_kernel(
    transport: str = "tcp", transport_encryption: str = "disabled", **kw: Any
) -> tuple[KernelManager, BlockingKernelClient]:
    """Start the mirage kernel with a KernelManager and return (km, ready client)."""
    install_kernelspec()
    km = KernelManager(
        kernel_name=KERNEL_NAME, transport=transport, transport_encryption=transport_encryption
    )
    km.start_kernel(**kw)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    flush(kc)
    return km, kc


def stop_kernel(km: KernelManager, kc: BlockingKernelClient) -> None:
    """Stop channels and the kernel: politely if it is alive, by force otherwise."""
    try:
        kc.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=not km.is_alive())


def flush(kc: BlockingKernelClient, timeout: float = 0.2) -> list[dict[str, Any]]:
    """Drain shell and iopub; return what was drained."""
    drained = []
    for channel in (kc.shell_channel, kc.iopub_channel, kc.stdin_channel):
        while True:
            try:
                drained.append(channel.get_msg(timeout=timeout))
            except Empty:
                break
    return drained


def shell_reply(kc: BlockingKernelClient, msg_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The shell reply to msg_id (other shell messages are dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no shell reply to {msg_id} within {timeout}s")
        try:
            msg = kc.get_shell_msg(timeout=remaining)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def iopub_for(
    kc: BlockingKernelClient, msg_id: str, timeout: float = TIMEOUT
) -> list[dict[str, Any]]:
    """All iopub messages whose parent is msg_id, up to and including status idle."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"no status idle for {msg_id} within {timeout}s; got {[m['msg_type'] for m in out]}"
            )
        try:
            msg = kc.get_iopub_msg(timeout=remaining)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        out.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out


def execute(
    kc: BlockingKernelClient, code: str, timeout: float = TIMEOUT, **kw: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute code; return (execute_reply, iopub messages for it incl. status)."""
    msg_id = kc.execute(code, **kw)
    reply = shell_reply(kc, msg_id, timeout)
    return reply, iopub_for(kc, msg_id, timeout)


def outputs(iopub: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """iopub messages that are outputs (no status / execute_input)."""
    return [m for m in iopub if m["msg_type"] not in ("status", "execute_input")]


def stdout_text(iopub: list[dict[str, Any]], name: str = "stdout") -> str:
    return "".join(
        m["content"]["text"]
        for m in iopub
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def read_connection_file(km: KernelManager) -> dict[str, Any]:
    with open(km.connection_file) as f:
        return json.load(f)


class RawClient:
    """Raw ZeroMQ DEALER sockets to a running kernel, with a Session for signing.

    Lets a test send frame sets that jupyter_client would never produce.
    """

    def __init__(self, km: KernelManager, channel: str = "shell") -> None:
        self.info = read_connection_file(km)
        self.session = Session(
            key=self.info["key"].encode(), signature_scheme=self.info["signature_scheme"]
        )
        self.ctx = zmq.Context()
        self.channel = channel
        self.sock = self._connect(channel)

    def _url(self, channel: str) -> str:
        port = self.info[f"{channel}_port"]
        if self.info["transport"] == "ipc":
            return f"ipc://{self.info['ip']}-{port}"
        return f"tcp://{self.info['ip']}:{port}"

    def _connect(self, channel: str) -> zmq.Socket:
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.identity = self.session.bsession
        if self.info.get("curve_publickey"):
            sock.curve_publickey = self.info["curve_publickey"].encode()
            sock.curve_secretkey = self.info["curve_secretkey"].encode()
            sock.curve_serverkey = self.info["curve_publickey"].encode()
        sock.connect(self._url(channel))
        return sock

    def reconnect(self) -> None:
        self.sock.close(linger=0)
        self.sock = self._connect(self.channel)

    def msg(self, msg_type: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.session.msg(msg_type, content or {})

    def frames(self, msg: dict[str, Any]) -> list[bytes]:
        """[<IDS|MSG>, signature, header, parent, metadata, content] for msg."""
        return self.session.serialize(msg)

    def sign(self, parts: list[bytes]) -> bytes:
        return self.session.sign(parts)

    def send_frames(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames, copy=True)

    def send(self, msg: dict[str, Any]) -> None:
        self.send_frames(self.frames(msg))

    def recv(self, timeout: float) -> dict[str, Any] | None:
        """Next reply (deserialized, signature checked), or None after timeout seconds."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frames = self.sock.recv_multipart()
        _, parts = self.session.feed_identities(frames)
        return self.session.deserialize(parts)

    def recv_all(self, timeout: float) -> list[dict[str, Any]]:
        got = []
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            m = self.recv(remaining)
            if m is None:
                break
            got.append(m)
        return got

    def reply_to(self, msg_id: str, timeout: float = TIMEOUT) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            m = self.recv(remaining)
            if m is None:
                return None
            if m["parent_header"].get("msg_id") == msg_id:
                return m
        return None

    def check_serving(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send a good kernel_info_request on a fresh socket; return the reply or fail."""
        self.reconnect()
        m = self.msg("kernel_info_request")
        self.send(m)
        reply = self.reply_to(m["header"]["msg_id"], timeout)
        assert reply is not None, "kernel stopped answering kernel_info_request"
        assert reply["msg_type"] == "kernel_info_reply"
        return reply

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()
