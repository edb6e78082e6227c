"""The kernel's side of the Jupyter messaging protocol (5.4), driven with jupyter_client and with
hand-crafted ZeroMQ frames (pyzmq + jupyter_client.session.Session)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
import zmq

import mirage_testing as mt
from mirage_testing import execute, iopub_for, outputs, shell_reply, stdout_text

# --- fixtures ------------------------------------------------------------------------------------


class SharedKernel:
    """One kernel shared by the tests that leave it in a usable state.

    If a failed test leaves it stuck (e.g. waiting for input, or dead), the next test gets a
    restarted kernel instead of a cascade of timeouts.
    """

    def __init__(self) -> None:
        self.km, self.kc = mt.start_kernel()

    def responsive(self, timeout: float = 5) -> bool:
        if not self.km.is_alive():
            return False
        try:
            shell_reply(self.kc, self.kc.kernel_info(), timeout=timeout)
            return True
        except TimeoutError:
            return False

    def healthy(self):
        mt.flush(self.kc, timeout=0.05)
        if not self.responsive():
            try:
                self.kc.input("")  # in case it is waiting on stdin
                if self.km.has_kernel and self.km.is_alive():
                    self.km.interrupt_kernel()
            except Exception:
                pass
            if not self.responsive():
                mt.stop_kernel(self.km, self.kc)
                self.km, self.kc = mt.start_kernel()
        mt.flush(self.kc, timeout=0.05)
        return self.km, self.kc

    def close(self) -> None:
        mt.stop_kernel(self.km, self.kc)


@pytest.fixture(scope="module")
def kernel():
    shared = SharedKernel()
    yield shared
    shared.close()


@pytest.fixture
def km_kc(kernel):
    """The shared kernel's manager and client, responsive, channels drained."""
    return kernel.healthy()


@pytest.fixture
def fresh():
    """A kernel of its own, for tests that interrupt, shut down or restart it."""
    km, kc = mt.start_kernel()
    yield km, kc
    try:
        kc.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


@pytest.fixture
def raw(km_kc):
    km, _ = km_kc
    client = mt.RawClient(km)
    yield client
    client.close()


def kernel_pid(km) -> int:
    return km.provisioner.process.pid


def wait_exit(km, timeout: float = 10.0) -> int | None:
    """Wait for the kernel process to exit; return its exit code (None if still running)."""
    proc = km.provisioner.process
    try:
        return proc.wait(timeout=timeout)
    except Exception:
        return proc.poll()


# --- kernel_info, status, heartbeat -------------------------------------------------------------


def test_kernel_info_reply_fields(km_kc):
    km, kc = km_kc
    msg_id = kc.kernel_info()
    reply = shell_reply(kc, msg_id)
    assert reply["msg_type"] == "kernel_info_reply"
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["protocol_version"] == "5.4"
    assert reply["header"]["version"] == "5.4", reply["header"]
    assert c["implementation"], c
    assert isinstance(c["banner"], str)
    li = c["language_info"]
    assert li["name"] == "mirage"
    assert li["file_extension"] == ".mirage"
    for key in ("mimetype", "codemirror_mode", "pygments_lexer"):
        assert li.get(key), f"language_info lacks {key}: {li}"
    assert isinstance(li["mimetype"], str) and "/" in li["mimetype"], li["mimetype"]


REQUESTS = {
    "kernel_info": lambda kc: kc.kernel_info(),
    "execute": lambda kc: kc.execute("1 + 2"),
    "execute_error": lambda kc: kc.execute("undefined_name"),
    "complete": lambda kc: kc.complete("pri"),
    "inspect": lambda kc: kc.inspect("print"),
    "is_complete": lambda kc: kc.is_complete("print(1"),
    "history": lambda kc: kc.history(hist_access_type="tail", n=2),
    "comm_info": lambda kc: kc.comm_info(),
}


@pytest.mark.parametrize("request_kind", sorted(REQUESTS))
def test_status_busy_then_idle_around_request(km_kc, request_kind):
    km, kc = km_kc
    msg_id = REQUESTS[request_kind](kc)
    reply = shell_reply(kc, msg_id)
    assert reply["msg_type"].endswith("_reply")
    msgs = iopub_for(kc, msg_id)
    states = [m["content"]["execution_state"] for m in msgs if m["msg_type"] == "status"]
    assert states == ["busy", "idle"], [m["msg_type"] for m in msgs]
    assert msgs[0]["msg_type"] == "status" and msgs[0]["content"]["execution_state"] == "busy"
    assert msgs[-1]["msg_type"] == "status" and msgs[-1]["content"]["execution_state"] == "idle"


def test_heartbeat_echoes(km_kc):
    km, kc = km_kc
    info = mt.read_connection_file(km)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(f"tcp://{info['ip']}:{info['hb_port']}")
        payload = b"ping-" + uuid.uuid4().hex.encode()
        sock.send(payload)
        assert sock.poll(5000), "no heartbeat echo within 5 s"
        assert sock.recv() == payload
    finally:
        sock.close(linger=0)
    assert kc.is_alive()


# --- execute -------------------------------------------------------------------------------------


def test_execute_result_counts_match(km_kc):
    km, kc = km_kc
    reply, msgs = execute(kc, "1 + 2")
    assert reply["content"]["status"] == "ok"
    count = reply["content"]["execution_count"]
    inputs = [m for m in msgs if m["msg_type"] == "execute_input"]
    results = [m for m in msgs if m["msg_type"] == "execute_result"]
    assert len(inputs) == 1 and inputs[0]["content"]["execution_count"] == count
    assert inputs[0]["content"]["code"] == "1 + 2"
    assert len(results) == 1 and results[0]["content"]["execution_count"] == count
    assert results[0]["content"]["data"]["text/plain"] == "3"
    reply2, _ = execute(kc, "1 + 2")
    assert reply2["content"]["execution_count"] == count + 1


def test_stdout_and_stderr_streams(km_kc):
    km, kc = km_kc
    reply, msgs = execute(kc, 'print("hello, world")')
    assert reply["content"]["status"] == "ok"
    assert stdout_text(msgs) == "hello, world\n"
    reply, msgs = execute(kc, 'warn("careful")')
    assert reply["content"]["status"] == "ok"
    assert "careful" in stdout_text(msgs, "stderr")
    assert stdout_text(msgs, "stdout") == ""


def test_error_reply_and_single_error_output(km_kc):
    km, kc = km_kc
    reply, msgs = execute(kc, "undefined_name")
    c = reply["content"]
    assert c["status"] == "error"
    assert c["ename"] and isinstance(c["traceback"], list)
    assert "undefined_name" in c["evalue"] + "".join(c["traceback"])
    outs = outputs(msgs)
    assert [m["msg_type"] for m in outs] == ["error"]
    assert outs[0]["content"]["ename"] == c["ename"]


def test_display_data_png(km_kc):
    km, kc = km_kc
    reply, msgs = execute(kc, "show(zeros(8, 8))")
    assert reply["content"]["status"] == "ok"
    displays = [m for m in msgs if m["msg_type"] == "display_data"]
    assert len(displays) == 1
    import base64

    png = base64.b64decode(displays[0]["content"]["data"]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_clear_output_message(km_kc):
    km, kc = km_kc
    reply, msgs = execute(kc, "clear()")
    assert reply["content"]["status"] == "ok"
    clears = [m for m in msgs if m["msg_type"] == "clear_output"]
    assert len(clears) == 1
    assert isinstance(clears[0]["content"]["wait"], bool)


def test_silent_execute_is_quiet_and_does_not_count(km_kc):
    km, kc = km_kc
    before, _ = execute(kc, "1")
    n = before["content"]["execution_count"]
    msg_id = kc.execute('print("quiet")', silent=True)
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    msgs = iopub_for(kc, msg_id)
    kinds = [m["msg_type"] for m in msgs]
    assert "execute_input" not in kinds, kinds
    assert "stream" not in kinds, kinds
    assert "execute_result" not in kinds, kinds
    after, _ = execute(kc, "1")
    assert after["content"]["execution_count"] == n + 1, "silent execute advanced execution_count"


def test_silent_expression_has_no_execute_result(km_kc):
    km, kc = km_kc
    msg_id = kc.execute("1 + 2", silent=True)
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"
    assert [m["msg_type"] for m in iopub_for(kc, msg_id)] == ["status", "status"]


def test_user_expressions(km_kc):
    km, kc = km_kc
    msg_id = kc.execute(
        "ux = 40", user_expressions={"sum": "ux + 2", "three": "1 + 2", "bad": "undefined_name"}
    )
    reply = shell_reply(kc, msg_id)
    c = reply["content"]
    assert c["status"] == "ok"
    ue = c["user_expressions"]
    assert set(ue) == {"sum", "three", "bad"}
    assert ue["sum"]["status"] == "ok" and ue["sum"]["data"]["text/plain"] == "42", ue["sum"]
    assert ue["three"]["data"]["text/plain"] == "3"
    assert ue["bad"]["status"] == "error" and ue["bad"].get("ename"), ue["bad"]
    iopub_for(kc, msg_id)


def test_stop_on_error_aborts_queued_executes(km_kc):
    km, kc = km_kc
    ids = [kc.execute("undefined_name"), kc.execute('print("a")'), kc.execute('print("b")')]
    replies = [shell_reply(kc, i) for i in ids]
    assert replies[0]["content"]["status"] == "error"
    assert [r["content"]["status"] for r in replies[1:]] == ["aborted", "aborted"]
    for i in ids[1:]:
        kinds = [m["msg_type"] for m in iopub_for(kc, i)]
        assert "stream" not in kinds and "execute_input" not in kinds, kinds
    # Only the queue at the time of the error is aborted.
    reply, msgs = execute(kc, 'print("after")')
    assert reply["content"]["status"] == "ok"
    assert stdout_text(msgs) == "after\n"


def _execute_content(code: str) -> dict[str, Any]:
    return {"code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}


def test_stop_on_error_false_keeps_queue(km_kc):
    km, kc = km_kc
    ids = [
        kc.execute("undefined_name", stop_on_error=False),
        kc.execute('print("a")'),
        kc.execute('print("b")'),
    ]
    replies = [shell_reply(kc, i) for i in ids]
    assert [r["content"]["status"] for r in replies] == ["error", "ok", "ok"]
    assert stdout_text(iopub_for(kc, ids[1])) == "a\n"
    assert stdout_text(iopub_for(kc, ids[2])) == "b\n"


def test_thousand_pipelined_executes_in_order(km_kc):
    km, kc = km_kc
    n = 1000
    ids = [kc.execute(f"x = {i}") for i in range(n)]
    replies = [shell_reply(kc, i, timeout=60) for i in ids]
    # shell_reply drops other messages, so check that nothing came out of order explicitly:
    assert [r["parent_header"]["msg_id"] for r in replies] == ids
    assert all(r["content"]["status"] == "ok" for r in replies), [
        r["content"] for r in replies if r["content"]["status"] != "ok"
    ][:3]
    counts = [r["content"]["execution_count"] for r in replies]
    assert counts == list(range(counts[0], counts[0] + n)), "execution_count not increasing by 1"
    mt.flush(kc, timeout=0.5)
    reply, msgs = execute(kc, "x")
    assert reply["content"]["execution_count"] == counts[-1] + 1
    results = [m for m in msgs if m["msg_type"] == "execute_result"]
    assert results and results[0]["content"]["data"]["text/plain"] == str(n - 1)


def test_thousand_pipelined_replies_arrive_in_send_order(km_kc):
    """Read the shell channel raw (no filtering): the replies come exactly in send order."""
    km, kc = km_kc
    ids = [kc.execute(f"y = {i}", silent=True) for i in range(1000)]
    got = []
    while len(got) < len(ids):
        msg = kc.get_shell_msg(timeout=60)
        got.append(msg["parent_header"]["msg_id"])
    assert got == ids
    mt.flush(kc, timeout=0.5)


# --- completion, inspection, paging, is_complete ---------------------------------------------------


def test_complete_pri_offers_print(km_kc):
    km, kc = km_kc
    msg_id = kc.complete("pri", cursor_pos=3)
    c = shell_reply(kc, msg_id)["content"]
    assert c["status"] == "ok"
    assert "print" in c["matches"]
    assert c["cursor_end"] == 3
    assert c["cursor_start"] == 0


def test_complete_in_the_middle_of_code(km_kc):
    km, kc = km_kc
    code = "x = 1\ny = pri"
    msg_id = kc.complete(code, cursor_pos=len(code))
    c = shell_reply(kc, msg_id)["content"]
    assert "print" in c["matches"]
    assert (c["cursor_start"], c["cursor_end"]) == (len(code) - 3, len(code))


def test_inspect_print_and_help_page(km_kc):
    km, kc = km_kc
    msg_id = kc.inspect("print", cursor_pos=5)
    c = shell_reply(kc, msg_id)["content"]
    assert c["status"] == "ok" and c["found"] is True
    assert "print" in c["data"]["text/plain"]
    msg_id = kc.inspect("undefined_name_xyz", cursor_pos=5)
    c = shell_reply(kc, msg_id)["content"]
    assert c["status"] == "ok" and c["found"] is False

    reply, msgs = execute(kc, "help(print)")
    pc = reply["content"]
    assert pc["status"] == "ok"
    pages = [p for p in pc["payload"] if p.get("source") == "page"]
    assert len(pages) == 1
    assert "print" in pages[0]["data"]["text/plain"]
    assert isinstance(pages[0].get("start", 0), int)


@pytest.mark.parametrize(
    "code,status",
    [("print(1)", "complete"), ("print(1", "incomplete"), ("print(1))", "invalid"), (")]", "invalid")],
)
def test_is_complete(km_kc, code, status):
    km, kc = km_kc
    msg_id = kc.is_complete(code)
    c = shell_reply(kc, msg_id)["content"]
    assert c["status"] == status
    if status == "incomplete":
        assert isinstance(c.get("indent"), str), "incomplete is_complete_reply needs `indent`"


def test_history_tail_range_search(km_kc):
    km, kc = km_kc
    marker = uuid.uuid4().hex[:8]
    code = f'print("{marker}")'
    for _ in range(2):
        execute(kc, code)
    c = shell_reply(kc, kc.history(hist_access_type="tail", n=1, output=False, raw=True))["content"]
    assert c["status"] == "ok"
    (session, line, source), = c["history"]
    assert source == code
    c = shell_reply(
        kc, kc.history(hist_access_type="range", session=session, start=line, stop=line + 1, raw=True)
    )["content"]
    assert [h[2] for h in c["history"]] == [code]
    c = shell_reply(
        kc, kc.history(hist_access_type="search", pattern=f"*{marker}*", raw=True, output=False)
    )["content"]
    assert [h[2] for h in c["history"]] == [code, code]
    c = shell_reply(
        kc,
        kc.history(hist_access_type="search", pattern=f"*{marker}*", raw=True, output=False, unique=True),
    )["content"]
    assert [h[2] for h in c["history"]] == [code]


# --- stdin -------------------------------------------------------------------------------------------


def test_input_request_round_trip(km_kc):
    km, kc = km_kc
    msg_id = kc.execute('input("name? ")', allow_stdin=True)
    req = kc.get_stdin_msg(timeout=mt.TIMEOUT)
    kc.input("Ada")  # answer first, so a failed assertion below leaves the kernel usable
    assert req["msg_type"] == "input_request"
    assert req["parent_header"]["msg_id"] == msg_id
    assert req["content"]["prompt"] == "name? "
    assert req["content"]["password"] is False
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    results = [m for m in iopub_for(kc, msg_id) if m["msg_type"] == "execute_result"]
    assert len(results) == 1 and "Ada" in results[0]["content"]["data"]["text/plain"]


def test_input_without_allow_stdin_errors(km_kc):
    km, kc = km_kc
    msg_id = kc.execute('input("name? ")', allow_stdin=False)
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "error"
    with pytest.raises(Empty):
        kc.get_stdin_msg(timeout=0.5)
    iopub_for(kc, msg_id)


# --- comms -------------------------------------------------------------------------------------------


def test_comm_info_is_empty(km_kc):
    km, kc = km_kc
    c = shell_reply(kc, kc.comm_info())["content"]
    assert c["status"] == "ok" and c["comms"] == {}
    c = shell_reply(kc, kc.comm_info(target_name="jupyter.widget"))["content"]
    assert c["status"] == "ok" and c["comms"] == {}


def test_comm_open_unknown_target_is_closed(km_kc):
    km, kc = km_kc
    comm_id = uuid.uuid4().hex
    msg = kc.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "no.such.target", "data": {}}
    )
    kc.shell_channel.send(msg)
    msgs = iopub_for(kc, msg["header"]["msg_id"])
    closes = [m for m in msgs if m["msg_type"] == "comm_close"]
    assert len(closes) == 1, [m["msg_type"] for m in msgs]
    assert closes[0]["content"]["comm_id"] == comm_id
    c = shell_reply(kc, kc.comm_info())["content"]
    assert c["comms"] == {}


# --- hand-crafted frames -------------------------------------------------------------------------


def test_wrong_signature_gets_no_reply(km_kc, raw):
    km, kc = km_kc
    msg = raw.msg("kernel_info_request")
    frames = raw.frames(msg)
    assert frames[0] == b"<IDS|MSG>"
    good_sig = frames[1]
    bad_sig = bytes(reversed(good_sig)) if good_sig != bytes(reversed(good_sig)) else b"0" * len(good_sig)
    raw.send_frames([frames[0], bad_sig, *frames[2:]])
    assert raw.reply_to(msg["header"]["msg_id"], timeout=2) is None, "kernel answered a forged message"
    # Signed with the wrong key.
    forger = mt.RawClient(km)
    forger.session.key = b"not-the-key"
    try:
        m2 = forger.msg("kernel_info_request")
        forger.send(m2)
        assert forger.reply_to(m2["header"]["msg_id"], timeout=2) is None
    finally:
        forger.close()
    # An execute with a bad signature must not run.
    m3 = raw.msg("execute_request", {"code": 'print("forged")', "silent": False, "store_history": True,
                                     "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    f3 = raw.frames(m3)
    raw.send_frames([f3[0], b"0" * len(f3[1]), *f3[2:]])
    assert raw.reply_to(m3["header"]["msg_id"], timeout=1) is None
    # ...and the kernel still serves good requests.
    raw.check_serving()
    reply, msgs = execute(kc, "1 + 2")
    assert reply["content"]["status"] == "ok"
    assert "forged" not in json.dumps([m["content"] for m in mt.flush(kc)])


def test_replayed_message_is_acted_on_once(km_kc, raw):
    km, kc = km_kc
    marker = uuid.uuid4().hex[:8]
    msg = raw.msg("execute_request", {"code": f'print("{marker}")', "silent": False, "store_history": True,
                                      "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    frames = raw.frames(msg)
    raw.send_frames(frames)
    raw.send_frames(frames)
    got = [m for m in raw.recv_all(timeout=3) if m["parent_header"].get("msg_id") == msg["header"]["msg_id"]]
    assert len(got) == 1, f"expected one execute_reply, got {len(got)}"
    assert got[0]["content"]["status"] == "ok"
    # Exactly one execution on iopub.
    seen = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=0.2)
        except Empty:
            continue
        if m["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            seen.append(m)
    assert [m["msg_type"] for m in seen].count("execute_input") == 1
    assert stdout_text(seen) == f"{marker}\n"
    # Replay from a different socket (another identity) is refused too.
    other = mt.RawClient(km)
    try:
        other.send_frames(frames)
        assert other.reply_to(msg["header"]["msg_id"], timeout=2) is None
    finally:
        other.close()
    raw.check_serving()


def _signed(raw: mt.RawClient, header: bytes, content: bytes = b"{}", parent: bytes = b"{}",
            metadata: bytes = b"{}") -> list[bytes]:
    parts = [header, parent, metadata, content]
    return [b"<IDS|MSG>", raw.sign(parts), *parts]


def _header(raw: mt.RawClient, msg_type: str) -> dict[str, Any]:
    h = raw.msg(msg_type)["header"]
    h["date"] = h["date"].isoformat()
    return h


MALFORMED = {
    "missing delimiter": lambda raw: raw.frames(raw.msg("kernel_info_request"))[1:],
    "only delimiter": lambda raw: [b"<IDS|MSG>"],
    "too few frames": lambda raw: raw.frames(raw.msg("kernel_info_request"))[:3],
    "empty frames": lambda raw: [b"<IDS|MSG>", b"", b"", b"", b"", b""],
    "non-JSON header, valid signature": lambda raw: _signed(raw, b"this is not json {"),
    "non-UTF-8 header, valid signature": lambda raw: _signed(raw, b"\xff\xfe\x00garbage"),
    "JSON array header, valid signature": lambda raw: _signed(raw, b"[1, 2, 3]"),
    "JSON string header, valid signature": lambda raw: _signed(raw, b'"kernel_info_request"'),
    "header without msg_type": lambda raw: _signed(raw, json.dumps({"msg_id": "x", "session": "s"}).encode()),
    "header with numeric msg_type": lambda raw: _signed(
        raw, json.dumps({**_header(raw, "kernel_info_request"), "msg_type": 42}).encode()),
    "content is a JSON array": lambda raw: _signed(
        raw, json.dumps(_header(raw, "execute_request")).encode(), content=b"[1]"),
    "content not JSON": lambda raw: _signed(
        raw, json.dumps(_header(raw, "execute_request")).encode(), content=b"{code: 1"),
    "execute without code": lambda raw: _signed(
        raw, json.dumps(_header(raw, "execute_request")).encode(), content=b'{"silent": false}'),
    "code of wrong type": lambda raw: _signed(
        raw, json.dumps(_header(raw, "execute_request")).encode(), content=b'{"code": 12}'),
    "deeply nested JSON content": lambda raw: _signed(
        raw, json.dumps(_header(raw, "kernel_info_request")).encode(),
        content=b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    "deeply nested JSON header": lambda raw: _signed(raw, b"[" * 200_000 + b"]" * 200_000),
    "50 MB content": lambda raw: _signed(
        raw, json.dumps(_header(raw, "kernel_info_request")).encode(),
        content=b'{"padding": "' + b"a" * (50 * 1024 * 1024) + b'"}'),
    "50 MB garbage frame": lambda raw: [b"<IDS|MSG>", b"0" * 64, b"\x00" * (50 * 1024 * 1024), b"{}", b"{}", b"{}"],
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_frames_leave_kernel_serving(km_kc, raw, case):
    km, kc = km_kc
    raw.send_frames(MALFORMED[case](raw))
    raw.recv_all(timeout=0.3)  # a reply (e.g. an error) is allowed, a crash is not
    raw.check_serving(timeout=30)
    assert km.is_alive(), f"kernel died after: {case}"
    reply, _ = execute(kc, "1 + 2")
    assert reply["content"]["status"] == "ok"


def test_unknown_message_type_on_shell(km_kc, raw):
    km, kc = km_kc
    msg = raw.msg("no_such_request")
    raw.send(msg)
    reply = raw.reply_to(msg["header"]["msg_id"], timeout=2)
    if reply is not None:  # a reply is optional; if there is one it must make sense
        assert reply["msg_type"] in ("no_such_reply", "error", "no_such_request_reply"), reply["msg_type"]
    raw.check_serving()
    assert km.is_alive()


# --- interrupt --------------------------------------------------------------------------------------


def _start_sleep(kc) -> str:
    assert execute(kc, "keep = 7")[0]["content"]["status"] == "ok"
    msg_id = kc.execute("sleep(60)")
    # Wait until the kernel is running it (execute_input is published when execution starts).
    deadline = time.monotonic() + mt.TIMEOUT
    while True:
        m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
            break
    time.sleep(0.3)
    return msg_id


def _check_interrupted(kc, msg_id: str, t_sent: float) -> None:
    t_client = time.monotonic()
    reply = shell_reply(kc, msg_id, timeout=10)  # generous client-side bound
    assert reply["content"]["status"] == "error", reply["content"]
    # The kernel's own answer: its execute_reply is stamped within 0.5 s of the interrupt.
    kernel_latency = reply["header"]["date"].timestamp() - t_sent
    assert kernel_latency < 0.5, f"execute_reply stamped {kernel_latency:.3f}s after the interrupt"
    msgs = iopub_for(kc, msg_id)
    assert [m["msg_type"] for m in outputs(msgs)] == ["error"]
    # State survives the interrupt and the kernel keeps working.
    reply, msgs = execute(kc, "keep")
    assert reply["content"]["status"] == "ok"
    assert [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"] == ["7"]
    assert time.monotonic() - t_client < 30


def test_interrupt_request_stops_sleep(fresh):
    km, kc = fresh
    assert km.kernel_spec.interrupt_mode == "message"
    msg_id = _start_sleep(kc)
    t_sent = time.time()
    km.interrupt_kernel()
    _check_interrupted(kc, msg_id, t_sent)


def test_interrupt_reply_on_control(fresh):
    km, kc = fresh
    msg_id = _start_sleep(kc)
    msg = kc.session.msg("interrupt_request", {})
    t_sent = time.time()
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=10)
    assert reply["msg_type"] == "interrupt_reply"
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    assert reply["content"]["status"] == "ok"
    _check_interrupted(kc, msg_id, t_sent)


def test_sigint_interrupts(fresh):
    km, kc = fresh
    msg_id = _start_sleep(kc)
    t_sent = time.time()
    os.kill(kernel_pid(km), signal.SIGINT)
    _check_interrupted(kc, msg_id, t_sent)
    assert km.is_alive()


def test_interrupt_when_idle_is_harmless(fresh):
    km, kc = fresh
    km.interrupt_kernel()
    os.kill(kernel_pid(km), signal.SIGINT)
    time.sleep(0.5)
    assert km.is_alive()
    reply, _ = execute(kc, "1 + 2")
    assert reply["content"]["status"] == "ok"


# --- shutdown and restart --------------------------------------------------------------------------


def test_shutdown_without_restart(fresh):
    km, kc = fresh
    msg_id = kc.shutdown(restart=False)
    reply = kc.get_control_msg(timeout=mt.TIMEOUT)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is False
    assert wait_exit(km) == 0, "kernel did not exit cleanly after shutdown_request"


def test_shutdown_request_with_restart_flag(fresh):
    km, kc = fresh
    kc.shutdown(restart=True)
    reply = kc.get_control_msg(timeout=mt.TIMEOUT)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["restart"] is True
    assert wait_exit(km) == 0


# kernel_info_request and shutdown_request are allowed on shell and on control, and answered alike.


def test_kernel_info_is_the_same_on_control_and_shell(fresh):
    km, kc = fresh
    on_shell = shell_reply(kc, kc.kernel_info())
    msg = kc.session.msg("kernel_info_request", {})
    kc.control_channel.send(msg)
    on_control = kc.get_control_msg(timeout=mt.TIMEOUT)
    assert on_control["msg_type"] == "kernel_info_reply"
    assert on_control["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    assert on_control["content"] == on_shell["content"]
    assert on_control["content"]["language_info"]["name"] == "mirage"
    statuses = [m["content"]["execution_state"] for m in iopub_for(kc, msg["header"]["msg_id"]) if m["msg_type"] == "status"]
    assert statuses == ["busy", "idle"]


@pytest.mark.parametrize("restart", [False, True])
def test_shutdown_on_the_shell_channel(fresh, restart):
    km, kc = fresh
    msg = kc.session.msg("shutdown_request", {"restart": restart})
    kc.shell_channel.send(msg)
    reply = shell_reply(kc, msg["header"]["msg_id"])
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"] == {"status": "ok", "restart": restart}
    statuses = [m["content"]["execution_state"] for m in iopub_for(kc, msg["header"]["msg_id"]) if m["msg_type"] == "status"]
    assert statuses == ["busy", "idle"]
    assert wait_exit(km) == 0, "kernel did not exit cleanly after a shutdown_request on the shell channel"


def test_restart_kernel(fresh):
    km, kc = fresh
    assert execute(kc, "before = 1")[0]["content"]["status"] == "ok"
    old_pid = kernel_pid(km)
    km.restart_kernel(now=False)
    assert kernel_pid(km) != old_pid
    kc.stop_channels()
    kc2 = km.client()
    kc2.start_channels()
    try:
        kc2.wait_for_ready(timeout=mt.STARTUP_TIMEOUT)
        mt.flush(kc2)
        reply, msgs = execute(kc2, "1 + 2")
        assert reply["content"]["status"] == "ok"
        assert reply["content"]["execution_count"] == 1, "a restarted kernel starts counting again"
        assert [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"] == ["3"]
        assert execute(kc2, "before")[0]["content"]["status"] == "error", "state survived a restart"
    finally:
        kc2.stop_channels()


# --- more clients, late subscribers, unicode, busy kernels ------------------------------------------


def test_two_clients_each_get_their_own_replies(km_kc):
    km, kc = km_kc
    # A client of its own (km.client() would share km's Session, hence the same ZeroMQ identity).
    from jupyter_client.blocking.client import BlockingKernelClient

    other = BlockingKernelClient(connection_file=km.connection_file)
    other.load_connection_file()
    assert other.session.session != kc.session.session
    other.start_channels()
    try:
        other.wait_for_ready(timeout=mt.STARTUP_TIMEOUT)
        mt.flush(other)
        ids_a = [kc.execute(f"a{i} = {i}") for i in range(20)]
        ids_b = [other.execute(f"b{i} = {i}") for i in range(20)]
        got_a = [kc.get_shell_msg(timeout=mt.TIMEOUT)["parent_header"]["msg_id"] for _ in ids_a]
        got_b = [other.get_shell_msg(timeout=mt.TIMEOUT)["parent_header"]["msg_id"] for _ in ids_b]
        assert got_a == ids_a
        assert got_b == ids_b
        with pytest.raises(Empty):
            kc.get_shell_msg(timeout=0.3)
        # Both clients see every execution's outputs on iopub (it is a broadcast).
        reply, msgs = execute(other, 'print("from other")')
        assert stdout_text(msgs) == "from other\n"
    finally:
        other.stop_channels()
    mt.flush(kc, timeout=0.3)


def test_iopub_welcome_for_a_late_subscriber(km_kc):
    km, kc = km_kc
    info = mt.read_connection_file(km)
    raw = mt.RawClient(km)
    sub = raw.ctx.socket(zmq.SUB)
    sub.linger = 0
    try:
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://{info['ip']}:{info['iopub_port']}")
        assert sub.poll(5000), "no iopub_welcome for a new subscriber within 5 s"
        _, parts = raw.session.feed_identities(sub.recv_multipart())
        msg = raw.session.deserialize(parts)
        assert msg["msg_type"] == "iopub_welcome"
        assert msg["content"] == {"subscription": ""}
        # (XPUB cannot unicast: existing subscribers may see this welcome too, as with ipykernel.)
    finally:
        sub.close(0)
        raw.close()


def test_unicode_round_trip(km_kc):
    km, kc = km_kc
    text = "héllo ✓ — 日本語 🎉"
    reply, msgs = execute(kc, f'print("{text}")')
    assert reply["content"]["status"] == "ok"
    assert stdout_text(msgs) == text + "\n"
    # Cursor positions count unicode code points, not bytes (protocol 5.2+).
    code = f'"{text}" + pri'
    c = shell_reply(kc, kc.complete(code, cursor_pos=len(code)))["content"]
    assert "print" in c["matches"]
    assert (c["cursor_start"], c["cursor_end"]) == (len(code) - 3, len(code))


def test_comm_msg_to_unknown_comm_is_harmless(km_kc, raw):
    km, kc = km_kc
    for kind in ("comm_msg", "comm_close"):
        m = raw.msg(kind, {"comm_id": uuid.uuid4().hex, "data": {}})
        raw.send(m)
    raw.recv_all(timeout=0.3)
    raw.check_serving()


def test_busy_kernel_still_answers_heartbeat_and_control(fresh):
    km, kc = fresh
    msg_id = _start_sleep(kc)
    info = mt.read_connection_file(km)
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(f"tcp://{info['ip']}:{info['hb_port']}")
        sock.send(b"beat")
        assert sock.poll(2000) and sock.recv() == b"beat", "no heartbeat while executing"
    finally:
        sock.close(0)
    t_sent = time.time()
    km.interrupt_kernel()
    _check_interrupted(kc, msg_id, t_sent)


def test_interrupt_while_waiting_for_input(fresh):
    km, kc = fresh
    assert execute(kc, "keep = 7")[0]["content"]["status"] == "ok"
    msg_id = kc.execute('input("name? ")', allow_stdin=True)
    req = kc.get_stdin_msg(timeout=mt.TIMEOUT)
    assert req["msg_type"] == "input_request"
    t_sent = time.time()
    km.interrupt_kernel()
    _check_interrupted(kc, msg_id, t_sent)


# --- hostile but well-formed requests -----------------------------------------------------------------

_SPACES = " " * 200_000
HOSTILE = {
    "execute deep [": lambda kc: kc.execute("[" * 100_000),
    "execute deep (": lambda kc: kc.execute("(" * 50_000 + "1" + ")" * 50_000),
    "execute deep unary": lambda kc: kc.execute("-" * 100_000 + "1"),
    "execute 200k trailing spaces": lambda kc: kc.execute("x = 1" + _SPACES),
    "is_complete deep [": lambda kc: kc.is_complete("[" * 100_000),
    "is_complete 200k trailing spaces": lambda kc: kc.is_complete("x = 1" + _SPACES),
    "is_complete 200k leading spaces": lambda kc: kc.is_complete(_SPACES + "x = 1"),
    "complete 1 MB name": lambda kc: kc.complete("x" * 1_000_000),
    "complete after 200k spaces": lambda kc: kc.complete("x = 1" + _SPACES + "pri"),
    "inspect 1 MB name": lambda kc: kc.inspect("x" * 1_000_000, cursor_pos=500_000),
    "history search 1 MB pattern": lambda kc: kc.history(hist_access_type="search", pattern="*" * 1_000_000),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_request_is_answered(km_kc, case):
    """Large or deeply nested (but well-formed) requests get a reply and leave the kernel serving.

    30 s is a liveness bound, not a performance target: a linear-time kernel answers these in well
    under a second even in a debug build.
    """
    km, kc = km_kc
    msg_id = HOSTILE[case](kc)
    reply = shell_reply(kc, msg_id, timeout=30)
    allowed = ("complete", "incomplete", "invalid", "unknown") if case.startswith("is_complete") else ("ok", "error")
    assert reply["content"]["status"] in allowed, reply["content"]
    if case.startswith("execute"):
        iopub_for(kc, msg_id)
    assert km.is_alive()
    reply, _ = execute(kc, "1 + 2")
    assert reply["content"]["status"] == "ok"


# --- start-up: the engine is loaded on first use --------------------------------------------------


def test_engine_loads_when_a_cell_first_needs_it(fresh):
    """The kernel answers kernel_info and runs plain cells without oneDNN in the process; the first model
    cell loads it, and the engine works (with OMP_WAIT_POLICY from the kernelspec still in force)."""
    km, kc = fresh
    maps = Path(f"/proc/{kernel_pid(km)}/maps")
    reply = kc.kernel_info(reply=True, timeout=mt.TIMEOUT)
    assert reply["content"]["status"] == "ok"
    assert "libdnnl" not in maps.read_text() and "libgomp" not in maps.read_text()
    reply, iopub = execute(kc, "xs = [i * i for i in range(10)]\nprint(sum(xs))")
    assert reply["content"]["status"] == "ok" and stdout_text(iopub) == "285\n"
    assert "libdnnl" not in maps.read_text()
    model = mt.REPO / "Examples" / "models" / "mnist_cnn.onnx"
    reply, iopub = execute(kc, f'enc = load("{model}")\nz = encode(layer(enc, "features"), zeros(1, 1, 28, 28))\nprint(z.size)')
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stdout_text(iopub) == "128\n"
    assert "libdnnl" in maps.read_text() and "libgomp" in maps.read_text()
    environ = Path(f"/proc/{kernel_pid(km)}/environ").read_bytes().split(b"\0")
    assert b"OMP_WAIT_POLICY=PASSIVE" in environ
