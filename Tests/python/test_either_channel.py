"""kernel_info_request and shutdown_request, which the protocol allows on shell and on control, answered alike."""

from __future__ import annotations

import pytest

import mirage_testing as mt
from mirage_testing import iopub_for, shell_reply


@pytest.fixture
def fresh():
    """A kernel of its own: these tests shut it down."""
    km, kc = mt.start_kernel()
    yield km, kc
    try:
        kc.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


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
    assert km.provisioner.process.wait(timeout=10) == 0, "kernel did not exit cleanly after a shell shutdown_request"
