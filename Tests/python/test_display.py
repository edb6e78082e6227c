"""Display ids: a named output is shown once, then replaced in place (update_display_data)."""

from __future__ import annotations

import base64

import pytest

import mirage_testing as mt


@pytest.fixture(scope="module")
def km_kc():
    km, kc = mt.start_kernel()
    yield km, kc
    mt.stop_kernel(km, kc)


def run(kc, code):
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=mt.TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=mt.TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return reply, outputs
        if msg["msg_type"] not in ("status", "execute_input"):
            outputs.append(msg)


def test_display_then_update_in_place(km_kc):
    _, kc = km_kc
    reply, outputs = run(kc, 'display("starting", id="status")\n'
                             'for i in range(3):\n'
                             '    display("step " + str(i), id="status", update=true)\n')
    assert reply["content"]["status"] == "ok"
    kinds = [m["msg_type"] for m in outputs]
    assert kinds == ["display_data", "update_display_data", "update_display_data", "update_display_data"]
    assert {m["content"]["transient"]["display_id"] for m in outputs} == {"status"}
    texts = [m["content"]["data"]["text/plain"] for m in outputs]
    assert texts == ['"starting"', '"step 0"', '"step 1"', '"step 2"']


def test_display_of_a_tensor_is_a_png_with_size_metadata(km_kc):
    _, kc = km_kc
    reply, outputs = run(kc, 'display(zeros(8, 8), id="pic")')
    assert reply["content"]["status"] == "ok"
    [msg] = outputs
    png = base64.b64decode(msg["content"]["data"]["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    size = msg["content"]["metadata"]["image/png"]
    assert size["width"] >= 8 and size["height"] >= 8
    assert "text/plain" in msg["content"]["data"]
