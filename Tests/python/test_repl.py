"""`mirage repl` from a pipe: statements run as they complete, an empty line ends a block,
state persists, errors are rendered and the prompt carries on, end of input runs what is pending."""

from __future__ import annotations

import os
import subprocess


def test_repl_runs_statements_blocks_and_survives_errors():
    script = "x = 2\nfor i in range(2):\n    print(i * x)\n\nundefined_name\nx + 1\nprint(x,\n 10)\n"
    r = subprocess.run([os.environ["MIRAGE_BIN"], "repl"], input=script, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "2", "3", "2", "10"]
    assert "NameError" in r.stderr and "undefined_name" in r.stderr
