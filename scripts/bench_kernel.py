#!/usr/bin/env python3
"""Kernel benchmark: Mirage (release build) against ipykernel, in the same run.

Measures, for each kernel:
  * start-up: from launching the process (KernelManager.start_kernel) to the first
    kernel_info_reply on shell; median of --starts starts;
  * round trip of a trivial execute (`x = 1`): send execute_request, receive its execute_reply;
    median and p99 over --roundtrips sequential requests after --warmup; also the median time until
    the request's `status: idle` on iopub;
  * idle RSS: VmRSS of the kernel process (/proc/PID/status) 1 s after start-up; median over the starts.

Clients are jupyter_client's (KernelManager to launch, Session to sign); round trips use plain
DEALER/SUB sockets in the calling thread so the client side adds as little as possible. Both
kernels get identical treatment, including a 5 ms ZeroMQ reconnect interval (the default 100 ms
would quantise start-up times).

Targets (Mirage vs ipykernel): start-up <= 1/5, median round trip <= 1/4, idle RSS <= 1/2.
Usage: scripts/bench_kernel.py [--mirage-bin .build/release/mirage] [--starts 5] [--roundtrips 500]
       [--json results.json] [--check]   (--check: exit 1 if a target is missed)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"startup": 1 / 5, "rt_median": 1 / 4, "rss": 1 / 2}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Raw:
    """DEALER on shell + SUB on iopub, signing with the kernel's key."""

    def __init__(self, km: KernelManager, ctx: zmq.Context) -> None:
        info = km.get_connection_info(session=False)
        key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        self.session = Session(key=key, signature_scheme=info["signature_scheme"])
        tr, ip = info["transport"], info["ip"]

        def url(port: int) -> str:
            return f"{tr}://{ip}:{port}" if tr == "tcp" else f"{tr}://{ip}-{port}"

        self.shell = ctx.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.identity = self.session.bsession
        self.shell.connect(url(info["shell_port"]))
        self.iopub = ctx.socket(zmq.SUB)
        self.iopub.linger = 0
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(url(info["iopub_port"]))

    def request(self, msg_type: str, content: dict) -> str:
        msg = self.session.msg(msg_type, content)
        self.shell.send_multipart(self.session.serialize(msg))
        return msg["header"]["msg_id"]

    def _recv(self, sock: zmq.Socket, timeout: float) -> dict:
        if not sock.poll(int(timeout * 1000)):
            raise TimeoutError("kernel did not answer")
        frames = sock.recv_multipart()
        _, parts = self.session.feed_identities(frames)
        return self.session.deserialize(parts, content=False)

    def reply(self, msg_id: str, timeout: float = 60) -> dict:
        while True:
            m = self._recv(self.shell, timeout)
            if m["parent_header"].get("msg_id") == msg_id:
                return m

    def idle(self, msg_id: str, timeout: float = 60) -> None:
        while True:
            m = self._recv(self.iopub, timeout)
            if m["msg_type"] == "status" and m["parent_header"].get("msg_id") == msg_id:
                if json.loads(m["content"])["execution_state"] == "idle":
                    return

    def close(self) -> None:
        self.shell.close(0)
        self.iopub.close(0)


EXECUTE = {"code": "x = 1", "silent": False, "store_history": True, "user_expressions": {},
           "allow_stdin": False, "stop_on_error": True}


def start(kernel: str, ctx: zmq.Context) -> tuple[KernelManager, Raw, float]:
    km = KernelManager(kernel_name=kernel, context=ctx)
    t0 = time.perf_counter()
    km.start_kernel()
    raw = Raw(km, ctx)
    msg_id = raw.request("kernel_info_request", {})
    reply = raw.reply(msg_id, timeout=120)
    elapsed = time.perf_counter() - t0
    assert reply["msg_type"] == "kernel_info_reply", reply["msg_type"]
    return km, raw, elapsed


def stop(km: KernelManager, raw: Raw) -> None:
    raw.close()
    km.shutdown_kernel(now=False)
    km.cleanup_resources()


def bench(kernel: str, starts: int, warmup: int, roundtrips: int) -> dict:
    ctx = zmq.Context()
    ctx.setsockopt(zmq.RECONNECT_IVL, 5)
    startup, rss = [], []
    for i in range(starts):
        km, raw, elapsed = start(kernel, ctx)
        startup.append(elapsed)
        time.sleep(1.0)
        rss.append(rss_kib(km.provisioner.process.pid))
        if i < starts - 1:
            stop(km, raw)
    # Round trips on the last started kernel.
    for _ in range(warmup):
        mid = raw.request("execute_request", EXECUTE)
        raw.reply(mid)
        raw.idle(mid)
    rt, rt_idle = [], []
    for _ in range(roundtrips):
        t0 = time.perf_counter()
        mid = raw.request("execute_request", EXECUTE)
        r = raw.reply(mid)
        t1 = time.perf_counter()
        raw.idle(mid)
        t2 = time.perf_counter()
        if json.loads(r["content"])["status"] != "ok":
            raise RuntimeError(f"{kernel}: `x = 1` failed: {r['content']}")
        rt.append(t1 - t0)
        rt_idle.append(t2 - t0)
    stop(km, raw)
    ctx.term()
    return {
        "startup_s": statistics.median(startup),
        "startup_all_s": startup,
        "rt_median_s": statistics.median(rt),
        "rt_p99_s": statistics.quantiles(rt, n=100)[98],
        "rt_idle_median_s": statistics.median(rt_idle),
        "rss_kib": statistics.median(rss),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirage-bin", default=str(ROOT / ".build" / "release" / "mirage"))
    ap.add_argument("--peer", default="python3", help="kernelspec name of the peer (ipykernel)")
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--roundtrips", type=int, default=500)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args()

    binary = Path(args.mirage_bin).resolve()
    if not binary.is_file():
        print(f"no mirage binary at {binary}; build it with `swift build -c release`", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mirage-bench-"))
    try:
        # A private kernelspec dir and runtime dir; the python3 spec comes from this interpreter's
        # ipykernel (jupyter_client maps its argv "python" to sys.executable).
        os.environ["JUPYTER_PATH"] = str(tmp / "share" / "jupyter")
        os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
        os.environ["JUPYTER_DATA_DIR"] = str(tmp / "data")
        subprocess.run([str(binary), "install", "--prefix", str(tmp)], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

        results = {}
        for name, kernel in (("mirage", "mirage"), ("ipykernel", args.peer)):
            print(f"benchmarking {name} ({args.starts} starts, {args.roundtrips} round trips)...",
                  file=sys.stderr, flush=True)
            results[name] = bench(kernel, args.starts, args.warmup, args.roundtrips)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    m, p = results["mirage"], results["ipykernel"]
    rows = [
        ("start-up to kernel_info_reply (median)", "startup_s", "startup", lambda v: f"{v * 1000:9.1f} ms"),
        ("execute `x = 1` round trip (median)", "rt_median_s", "rt_median", lambda v: f"{v * 1e6:9.0f} µs"),
        ("execute round trip (p99)", "rt_p99_s", None, lambda v: f"{v * 1e6:9.0f} µs"),
        ("execute until status idle (median)", "rt_idle_median_s", None, lambda v: f"{v * 1e6:9.0f} µs"),
        ("idle RSS (median)", "rss_kib", "rss", lambda v: f"{v / 1024:9.1f} MiB"),
    ]
    missed = []
    print()
    print(f"{'metric':42} {'mirage':>13} {'ipykernel':>13} {'ratio':>7}  {'target':>8}  met")
    print("-" * 96)
    for label, key, target, fmt in rows:
        ratio = m[key] / p[key] if p[key] else float("inf")
        if target:
            goal = TARGETS[target]
            ok = ratio <= goal
            if not ok:
                missed.append(label)
            tgt, met = f"<= 1/{round(1 / goal)}", "yes" if ok else "NO"
        else:
            tgt, met = "", ""
        print(f"{label:42} {fmt(m[key]):>13} {fmt(p[key]):>13} {ratio:7.3f}  {tgt:>8}  {met}")
    print()
    print("start-ups (ms): mirage " + ", ".join(f"{v * 1000:.0f}" for v in m["startup_all_s"])
          + " | ipykernel " + ", ".join(f"{v * 1000:.0f}" for v in p["startup_all_s"]))
    print("all targets met" if not missed else "targets missed: " + "; ".join(missed))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "targets": TARGETS, "missed": missed}, indent=2))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
