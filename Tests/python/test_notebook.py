"""nbclient runs a small notebook under the `mirage` kernelspec; the outputs are what they should be."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import mirage_testing as mt
from pngcheck import parse_png

FIXTURE = Path(__file__).parent / "fixtures" / "smoke.ipynb"

CELLS = [
    'print("hello, world")',
    "1 + 2",
    "show(zeros(8, 8))",
    'warn("careful")',
]


def build_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "mirage", "display_name": "Mirage", "language": "mirage"}
    nb.metadata["language_info"] = {"name": "mirage", "file_extension": ".mirage"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Mirage smoke test")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in CELLS]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


def test_fixture_is_current_and_valid():
    """The committed fixture is what build_notebook() writes (regenerate: python test_notebook.py)."""
    nb = nbformat.read(FIXTURE, as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == [c.source for c in build_notebook().cells]
    assert nb.metadata.kernelspec.name == "mirage"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def run(nb: nbformat.NotebookNode, **kw) -> nbformat.NotebookNode:
    mt.install_kernelspec()
    client = NotebookClient(nb, timeout=60, startup_timeout=60, kernel_name="mirage", **kw)
    return client.execute()


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    return run(nbformat.read(FIXTURE, as_version=4))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_notebook_outputs(executed):
    nbformat.validate(executed)
    hello, three, image, warning = code_cells(executed)

    assert [o.output_type for o in hello.outputs] == ["stream"]
    assert hello.outputs[0].name == "stdout"
    assert hello.outputs[0].text == "hello, world\n"

    assert [o.output_type for o in three.outputs] == ["execute_result"]
    assert three.outputs[0].data["text/plain"] == "3"
    assert three.outputs[0].execution_count == three.execution_count

    assert [o.output_type for o in image.outputs] == ["display_data"]
    png = parse_png(base64.b64decode(image.outputs[0].data["image/png"]))
    assert png.width == png.height, "an 8x8 tensor should give a square image"
    assert png.width >= 8
    if png.rows is not None:
        assert len(set(png.pixels())) == 1, "zeros(8, 8) should render as a uniform image"

    assert [(o.output_type, o.name) for o in warning.outputs] == [("stream", "stderr")]
    assert "careful" in warning.outputs[0].text

    counts = [c.execution_count for c in code_cells(executed)]
    assert counts == list(range(1, len(counts) + 1))


def test_notebook_error_stops_execution():
    nb = build_notebook()
    nb.cells.insert(2, nbformat.v4.new_code_cell("undefined_name"))
    with pytest.raises(CellExecutionError) as info:
        run(copy.deepcopy(nb))
    assert "undefined_name" in str(info.value)
    executed = run(copy.deepcopy(nb), allow_errors=True)
    err = code_cells(executed)[1]
    assert [o.output_type for o in err.outputs] == ["error"]
    # Cells after the error still ran with allow_errors.
    assert code_cells(executed)[2].outputs[0].data["text/plain"] == "3"


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    nbformat.write(build_notebook(), FIXTURE)
    print(f"wrote {FIXTURE}")
