"""The Python forms of issue #15 through both front ends (the kernel and `mirage run`), is_complete checked
against IPython's own answers, `exit`/`quit` in the REPL, notebooks' file lookup from Notebooks/, and
papermill parameters through the mirage translator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import mirage_testing as mt

ROOT = Path(__file__).resolve().parents[2]

# One script per feature: (name, source, expected stdout).
FEATURES = [
    ("comprehensions", 'print([i * i for i in range(5) if i % 2 == 0], {k: len(k) for k in ["ab", "c"]})',
     '[0, 4, 16] {"ab": 2, "c": 1}\n'),
    ("tuples", 'a, b = 1, 2\na, b = b, a\nfor i, (x, y) in enumerate([(a, b)]):\n    print(i, x, y)',
     "0 2 1\n"),
    ("dicts", 'd = {"msp": 0.5}\nd["knn"] = 0.75\nprint(d, "msp" in d, list(d.items()))',
     '{"msp": 0.5, "knn": 0.75} true [("msp", 0.5), ("knn", 0.75)]\n'),
    ("fstrings", 'v = 0.91234\nprint(f"AUROC {v:.3f} {v:.1%} {\'msp\':>5}|")', "AUROC 0.912 91.2%   msp|\n"),
    ("conditional", 'x = None\nprint("none" if x is None else "set", 3 not in [1, 2])', "none true\n"),
    ("strings", 'print("abc".upper(), "-".join("a b c".split()), "x.onnx".endswith(".onnx"))', "ABC a-b-c true\n"),
    ("builtins", 'print(sorted([3, 1, 2], reverse=True), list(zip("ab", [1, 2])), round(2.5), int("7"), any([0, 1]))',
     '[3, 2, 1] [("a", 1), ("b", 2)] 2 7 true\n'),
    ("lambda", 'f = lambda x: x + 1\nprint(f(1), sorted(["bb", "a"], key=lambda s: len(s)))', '2 ["a", "bb"]\n'),
    ("try", 'for p in ["missing.onnx"]:\n    try:\n        load(p)\n    except IOError as e:\n        print("skipped", e.kind)\n'
            '    finally:\n        print("done")', "skipped IOError\ndone\n"),
    ("assert", 'assert 1 + 1 == 2, "math"\npass\nprint("ok")', "ok\n"),
]


@pytest.fixture(scope="module")
def km_kc():
    km, kc = mt.start_kernel()
    yield km, kc
    mt.stop_kernel(km, kc)


@pytest.mark.parametrize("name,source,expected", FEATURES, ids=[f[0] for f in FEATURES])
def test_feature_through_the_kernel(km_kc, name, source, expected):
    _, kc = km_kc
    reply, iopub = mt.execute(kc, source)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert mt.stdout_text(iopub) == expected


@pytest.mark.parametrize("name,source,expected", FEATURES, ids=[f[0] for f in FEATURES])
def test_feature_through_mirage_run(tmp_path, name, source, expected):
    script = tmp_path / f"{name}.mirage"
    script.write_text(source + "\n")
    r = subprocess.run([os.environ["MIRAGE_BIN"], "run", str(script)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected


def test_python_statements_outside_the_language_fail_in_one_line(km_kc):
    _, kc = km_kc
    reply, _ = mt.execute(kc, "import numpy as np")
    c = reply["content"]
    assert c["status"] == "error" and c["ename"] == "SyntaxError"
    assert c["evalue"] == "`import` is not part of Mirage"


def test_dict_of_numbers_is_a_table_and_inspect_describes_any_variable(km_kc):
    _, kc = km_kc
    reply, iopub = mt.execute(kc, 'scores = {"msp": 0.91, "energy": 0.5}\nscores')
    result = next(m for m in iopub if m["msg_type"] == "execute_result")
    assert "<table>" in result["content"]["data"]["text/html"]
    assert "<td>energy</td>" in result["content"]["data"]["text/html"]
    c = mt.shell_reply(kc, kc.inspect("scores", 6))["content"]
    assert c["found"] is True
    assert c["data"]["text/plain"].startswith("scores: dict, 2 entries")
    reply, iopub = mt.execute(kc, "whos()")
    table = next(m for m in iopub if m["msg_type"] == "display_data")["content"]["data"]["text/plain"]
    assert any(line.startswith("scores") and "dict" in line and "2 entries" in line for line in table.splitlines())


# is_complete: what IPython answers for the same cells (checked against IPython itself below).
IS_COMPLETE_CASES = [
    "def f(x):\n", "def f(x):", "for i in range(3):\n    print(i)", "for i in range(3):\n    print(i)\n",
    "for i in range(3):\n    print(i)\n    ", "for i in range(3):\n    print(i)\n\n", "if x:\n    if y:\n        z",
    "x = 1", "x = (1,\n", 'print("a"', 'x = """abc\n', "1 +\n", "a b", ")", "if x:\n    pass\nelse:\n",
    "try:\n    x\n", "try:\n    x\nexcept:\n    y\n", "if x:\n    y\nz", "x = [1,\n  2", "# c\n", "",
    "if x:\n    y = [1,\n", "def f():\n    return 1\n\nf()",
]


def ipython_answer(code: str) -> tuple[str, str | None]:
    from IPython.core.inputtransformer2 import TransformerManager
    status, indent = TransformerManager().check_complete(code)
    return status, None if indent is None else " " * indent


@pytest.mark.parametrize("code", IS_COMPLETE_CASES)
def test_is_complete_answers_as_ipython(km_kc, code):
    _, kc = km_kc
    c = mt.shell_reply(kc, kc.is_complete(code))["content"]
    status, indent = ipython_answer(code)
    assert c["status"] == status, f"{code!r}: mirage {c}, IPython {status!r}"
    if status == "incomplete":
        assert c["indent"] == indent, f"{code!r}: mirage indent {c['indent']!r}, IPython {indent!r}"


def test_repl_exit_and_quit(mirage_binary):
    for word in ["exit", "quit", "exit()", "quit()"]:
        r = subprocess.run([str(mirage_binary), "repl"], input=f'print("before")\n{word}\nprint("after")\n',
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "before\n", word


def test_files_are_found_from_the_notebooks_folder_and_errors_say_where_they_looked(tmp_path):
    script = tmp_path / "paths.mirage"
    script.write_text('x = npy("Examples/data/mnist/test_labels.npy")\nprint(x.shape)\n'
                      'try:\n    image("Examples/data/nope.png")\nexcept IOError as e:\n    print(e.message)\n    print(e.hint)\n')
    r = subprocess.run([os.environ["MIRAGE_BIN"], "run", str(script)], cwd=ROOT / "Notebooks", capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    shape, message, hint = r.stdout.splitlines()
    assert shape == "[1000]"
    assert message == 'image(): file "Examples/data/nope.png" not found'
    assert f"the working directory is {ROOT / 'Notebooks'}" in hint
    assert str(ROOT / "Examples/data/nope.png") in hint and str(ROOT / "Notebooks/Examples/data/nope.png") in hint


def test_load_shows_the_model_files_sha256(km_kc):
    import hashlib
    _, kc = km_kc
    reply, iopub = mt.execute(kc, 'load("Examples/models/mnist_cnn.onnx")')
    assert reply["content"]["status"] == "ok", reply["content"]
    text = next(m for m in iopub if m["msg_type"] == "execute_result")["content"]["data"]["text/plain"]
    digest = hashlib.sha256((ROOT / "Examples/models/mnist_cnn.onnx").read_bytes()).hexdigest()
    assert f"sha256 {digest}" in text


def test_papermill_parameters_in_mirage_syntax(tmp_path):
    from papermill.translators import papermill_translators
    translator = papermill_translators.find_translator("mirage", "mirage")
    code = translator.codify({"eps": 5, "lr": 0.25, "name": 'a "b"\n', "flag": True, "nothing": None,
                              "xs": [1, 2.5, "c"], "d": {"k": [False]}})
    assert code == ('# Parameters\neps = 5\nlr = 0.25\nname = "a \\"b\\"\\n"\nflag = true\nnothing = none\n'
                    'xs = [1, 2.5, "c"]\nd = {"k": [false]}\n')


def test_papermill_runs_a_bundled_notebook_with_a_parameter(tmp_path):
    out = tmp_path / "02.ipynb"
    env = dict(os.environ, JUPYTER_PATH=str(Path(os.environ["MIRAGE_TEST_PREFIX"]) / "share" / "jupyter"))
    r = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "Notebooks" / "02-stepping.ipynb"), str(out),
                        "-p", "digit", "5", "-p", "eps", "8", "--cwd", str(ROOT / "Notebooks"), "-k", "mirage"],
                       capture_output=True, text=True, timeout=600, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and injected[0].source.splitlines()[1:] == ["digit = 5", "eps = 8"]
    atk_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("enc = load("))
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in atk_cell.outputs)
    assert "eps=8" in shown, shown
