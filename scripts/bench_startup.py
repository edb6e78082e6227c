"""Kernel start-up, every time: from launching `mirage kernel` to its first kernel_info_reply, over many
launches (min / median / 90th percentile / max), with ipykernel measured the same way in the same run.

The client writes a connection file, starts the process with the kernelspec's environment
(OMP_WAIT_POLICY=PASSIVE), and sends kernel_info_request on a DEALER socket that is already connecting
(1 ms reconnect interval, so the figure is the kernel's, not ZeroMQ's back-off).

    .venv/bin/python scripts/bench_startup.py [--mirage .build/release/mirage] [--launches 30] [--peer-launches 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq
from jupyter_client.session import Session

ROOT = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def launch(argv: list[str], ctx: zmq.Context, omp_env: bool = True) -> float:
    shell, iopub, stdin, control, hb = free_ports(5)
    key = os.urandom(16).hex()
    info = {"transport": "tcp", "ip": "127.0.0.1", "shell_port": shell, "iopub_port": iopub, "stdin_port": stdin,
            "control_port": control, "hb_port": hb, "key": key, "signature_scheme": "hmac-sha256"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(info, f)
        path = f.name
    session = Session(key=key.encode(), signature_scheme="hmac-sha256")
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt(zmq.RECONNECT_IVL, 1)
    sock.connect(f"tcp://127.0.0.1:{shell}")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    if not omp_env:
        env.pop("OMP_WAIT_POLICY")
    t0 = time.perf_counter()
    proc = subprocess.Popen([a.replace("{connection_file}", path) for a in argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        session.send(sock, session.msg("kernel_info_request", {}))
        if not sock.poll(60_000):
            raise RuntimeError(f"no kernel_info_reply from {argv[0]} within 60 s")
        session.recv(sock)
        elapsed = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        sock.close(linger=0)
        os.unlink(path)
    return elapsed


def summary(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return (f"{name:10} n={len(ms):3}  min {ms[0]:7.1f}  median {statistics.median(ms):7.1f}  "
            f"p90 {p90:7.1f}  max {ms[-1]:7.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirage", default=str(ROOT / ".build" / "release" / "mirage"))
    ap.add_argument("--launches", type=int, default=30)
    ap.add_argument("--peer-launches", type=int, default=5)
    ap.add_argument("--without-env", action="store_true", help="launch without OMP_WAIT_POLICY in the environment")
    ap.add_argument("--other", help="another mirage binary to measure beside this one (e.g. main's)")
    args = ap.parse_args()
    ctx = zmq.Context()
    mirage = [args.mirage, "kernel", "--connection-file", "{connection_file}"]
    peer = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    load = os.getloadavg()[0]
    m_times, p_times, o_times = [], [], []
    for i in range(args.launches):  # interleaved with the peer, so both see the same load
        m_times.append(launch(mirage, ctx, not args.without_env))
        if args.other:
            o_times.append(launch([args.other] + mirage[1:], ctx, not args.without_env))
        if i < args.peer_launches:
            p_times.append(launch(peer, ctx))
    print(summary("mirage", m_times))
    if args.other:
        print(summary("other", o_times))
    if p_times:
        print(summary("ipykernel", p_times))
    print(f"load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
