"""jupyter_kernel_test's conformance suite for the `mirage` kernel, with every test enabled,
run three times: plain tcp, tcp with CurveZMQ required, and ipc.

The base classes are reached through the module (`jkt.KernelTests`) on purpose: pytest collects
every unittest.TestCase in a test module's namespace, and the bare base classes target python3.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
import time
from queue import Empty
from typing import Any

import jupyter_kernel_test as jkt
import zmq
from jupyter_kernel_test.msgspec_v5 import validate_message

import mirage_testing as mt


class MirageSamples:
    """Every sample attribute jupyter_kernel_test 0.7 reads, for the Mirage language."""

    kernel_name = mt.KERNEL_NAME
    language_name = "mirage"
    file_extension = ".mirage"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'warn("careful")'

    # test_completion compares the *set* of matches for equality, so use a prefix whose full
    # match set is known: `prin` can only be `print`.
    completion_samples = [{"text": "prin", "matches": {"print"}}]

    complete_code_samples = ["print(1)", "1 + 2", "x = 1"]
    incomplete_code_samples = ["print(1", "[1, 2,", "print("]
    invalid_code_samples = ["print(1))", ")]"]

    code_page_something = "help(print)"
    code_generate_error = "undefined_name"
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "6 * 7", "result": "42"},
    ]
    code_display_data = [{"code": "show(zeros(8, 8))", "mime": "image/png"}]

    # A glob (the protocol's history search pattern syntax) matching exactly one sample above.
    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "print"
    code_clear_output = "clear()"

    support_iopub_welcome = True

    def flush_channels(self) -> None:
        """Like the base class, but tolerates `iopub_welcome`.

        jupyter_kernel_test 0.7 validates against its 5.1 schema table, which has no entry for the
        5.4 `iopub_welcome` message, so a welcome that arrives after wait_for_ready's single iopub
        read would otherwise crash flush_channels with a KeyError. Check it by hand instead.
        """
        for channel in (self.kc.shell_channel, self.kc.iopub_channel):
            while True:
                try:
                    msg = channel.get_msg(timeout=0.1)
                except Empty:
                    break
                if msg["header"]["msg_type"] == "iopub_welcome":
                    assert msg["content"] == {"subscription": ""}, msg["content"]
                    continue
                validate_message(msg)


# --- plain tcp -------------------------------------------------------------------------------


class TestMirageKernel(MirageSamples, jkt.KernelTests):
    @classmethod
    def setUpClass(cls) -> None:
        cls.km, cls.kc = mt.start_kernel()

    @classmethod
    def tearDownClass(cls) -> None:
        mt.stop_kernel(cls.km, cls.kc)


class TestMirageIopubWelcome(MirageSamples, jkt.IopubWelcomeTests):
    @classmethod
    def setUpClass(cls) -> None:
        mt.install_kernelspec()
        super().setUpClass()


# --- CurveZMQ required ---------------------------------------------------------------------


def _assert_curve_connection_file(km: Any) -> None:
    info = mt.read_connection_file(km)
    for key in ("curve_publickey", "curve_secretkey"):
        assert key in info, f"connection file lacks {key}: {sorted(info)}"
        assert len(info[key]) == 40, f"{key} is not a Z85 CurveZMQ key: {info[key]!r}"
    # The pair must be a real keypair: the public key derives from the secret key.
    assert zmq.curve_public(info["curve_secretkey"].encode()) == info["curve_publickey"].encode()


class TestMirageKernelCurve(MirageSamples, jkt.KernelTests):
    @classmethod
    def setUpClass(cls) -> None:
        cls.km, cls.kc = mt.start_kernel(transport_encryption="required")

    @classmethod
    def tearDownClass(cls) -> None:
        mt.stop_kernel(cls.km, cls.kc)

    def test_connection_file_has_curve_keys(self) -> None:
        _assert_curve_connection_file(self.km)

    def test_plaintext_client_is_refused(self) -> None:
        """A client without the server key must not get a reply: the kernel really enforces Curve."""
        info = mt.read_connection_file(self.km)
        raw = mt.RawClient(self.km)
        try:
            raw.sock.close(linger=0)
            raw.sock = raw.ctx.socket(zmq.DEALER)
            raw.sock.linger = 0
            raw.sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")
            m = raw.msg("kernel_info_request")
            raw.send(m)
            assert raw.reply_to(m["header"]["msg_id"], timeout=2) is None, (
                "kernel answered a client that did not use CurveZMQ"
            )
            # ...while a client with the keys is served.
            raw.check_serving()
        finally:
            raw.close()


class TestMirageIopubWelcomeCurve(MirageSamples, jkt.IopubWelcomeTests):
    @classmethod
    def setUpClass(cls) -> None:
        mt.install_kernelspec()
        cls.km = jkt.KernelManager(kernel_name=cls.kernel_name, transport_encryption="required")
        cls.km.start_kernel()
        _assert_curve_connection_file(cls.km)
        cls.kc = cls.km.client()


# --- ipc -----------------------------------------------------------------------------------


class TestMirageKernelIPC(MirageSamples, jkt.KernelTests):
    @classmethod
    def setUpClass(cls) -> None:
        cls.km, cls.kc = mt.start_kernel(transport="ipc")

    @classmethod
    def tearDownClass(cls) -> None:
        mt.stop_kernel(cls.km, cls.kc)

    def test_transport_is_ipc(self) -> None:
        info = mt.read_connection_file(self.km)
        assert info["transport"] == "ipc", info


class TestMirageIopubWelcomeIPC(MirageSamples, jkt.IopubWelcomeTests):
    @classmethod
    def setUpClass(cls) -> None:
        mt.install_kernelspec()
        cls.km = jkt.KernelManager(kernel_name=cls.kernel_name, transport="ipc")
        cls.km.start_kernel()
        cls.kc = cls.km.client()


# --- nothing may skip --------------------------------------------------------------------------

SUITES = [
    (jkt.KernelTests, [TestMirageKernel, TestMirageKernelCurve, TestMirageKernelIPC]),
    (jkt.IopubWelcomeTests, [TestMirageIopubWelcome, TestMirageIopubWelcomeCurve, TestMirageIopubWelcomeIPC]),
]


def _skip_guards(method: Any) -> list[ast.expr]:
    """The conditions of every `if <cond>: raise SkipTest(...)` in a test method's source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    guards = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and any(
            isinstance(stmt, ast.Raise)
            and isinstance(stmt.exc, ast.Call)
            and getattr(stmt.exc.func, "id", None) == "SkipTest"
            for stmt in node.body
        ):
            guards.append(node.test)
    return guards


def test_no_conformance_test_would_skip() -> None:
    """Every test jupyter_kernel_test offers is enabled: no skip guard holds for our samples.

    Guards that read local state (e.g. `session is None` in test_history, which is set by the
    `tail` sub-test) cannot be judged statically and are ignored here; the sub-tests before them
    assert the state they need.
    """
    problems = []
    checked = 0
    for base, classes in SUITES:
        tests = [name for name in dir(base) if name.startswith("test_")]
        assert tests, f"{base.__name__} offers no tests?"
        for cls in classes:
            for name in tests:
                for guard in _skip_guards(getattr(base, name)):
                    expr = ast.unparse(guard)
                    try:
                        would_skip = eval(compile(ast.Expression(guard), "<guard>", "eval"), {"self": cls})
                    except NameError:
                        continue
                    checked += 1
                    if would_skip:
                        problems.append(f"{cls.__name__}.{name}: skips because `{expr}`")
    # test_is_complete's guard is an `or`: require all three kinds of sample anyway.
    for cls in SUITES[0][1]:
        for attr in ("complete_code_samples", "incomplete_code_samples", "invalid_code_samples"):
            if not getattr(cls, attr):
                problems.append(f"{cls.__name__}.{attr} is empty")
    assert checked >= 20, f"only {checked} skip guards found; did jupyter_kernel_test change?"
    assert not problems, "\n".join(problems)
