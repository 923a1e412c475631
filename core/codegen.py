"""The code behind every lesson step, in Python and in R's torch, as text.

Each step's script is whole and runnable: it repeats the setup lines of the steps before
it (seed, module, x, backward) and then prints what that step shows, with the same seed
and sizes as the lessons (core.linear_lesson, core.sequential_lesson), so it prints the numbers
on screen. `training_script` does the same for a Train page config: it reproduces
core.trainer.Trainer epoch for epoch.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from core.config import Config, test_rows
from core.data import GAUSS_NOISE, GAUSS_SPREAD, POSITION_NOISE, SPIRAL_TURNS, XOR_PADDING
from core.lesson import Upstream
from core.linear_lesson import LinearSpec
from core.sequential_lesson import SequentialSpec


class StepCode(NamedTuple):
    """One step's code; a NamedTuple so that code_panel(*step_code, key=...) works."""

    python: str
    r: str


class _Block(NamedTuple):
    title: str  # '1. Create the layer', a comment line in both languages
    setup: StepCode  # lines later steps need too (creating the layer, the backward pass)
    show: StepCode  # lines that print what this step shows; only in this step's script


_NOTHING = StepCode("", "")
_R_NOTE = (
    "# R's torch runs the same libtorch: with the same seed its numbers\n"
    "# usually match the Python tab's, but versions may differ.\n"
)


def _number(value: float) -> str:
    """A float as both languages read it back exactly: repr gives the shortest round-trip text."""
    return repr(float(value))


def _weighted_sum(coefficients: tuple[float, ...], column: str, first: int) -> list[tuple[str, str]]:
    """(operator, term) pairs of c_1*x_1 + c_2*x_2 + ..., as core.data.weighted_sum adds them.

    column: how the language names column i (`x[:, {}]` or `x[, {}]`), counting from first.
    A negative coefficient is written as a subtraction, the lesson's `- 1.3*x2`: it rounds to
    the same bits as adding the negative product. The first pair's operator is "".
    """
    pairs = [("", f"{_number(coefficients[0])} * {column.format(first)}")]
    for i, c in enumerate(coefficients[1:], start=first + 1):
        pairs.append(("-" if math.copysign(1.0, c) < 0 else "+", f"{_number(abs(c))} * {column.format(i)}"))
    return pairs


def _target_line(pairs: list[tuple[str, str]], assign: str, tail: str, indent: str, break_before: bool) -> str:
    """`y = (sum)tail` on one line if it fits in 88 columns, else one term a line inside the brackets.

    Python breaks before an operator (PEP 8); R after it, so that no line looks complete.
    """
    line = f"y {assign} ({' '.join(f'{op} {term}'.lstrip() for op, term in pairs)}){tail}"
    if len(line) <= 88:
        return line
    if break_before:
        rows = [f"{op} {term}".lstrip() for op, term in pairs]
    else:
        next_ops = [op for op, _ in pairs[1:]] + [""]
        rows = [f"{term} {op}".rstrip() for (_, term), op in zip(pairs, next_ops)]
    body = "\n".join(indent + row for row in rows)
    return f"y {assign} (\n{body}\n){tail}"


def _python_target(coefficients: tuple[float, ...]) -> str:
    return _target_line(_weighted_sum(coefficients, "x[:, {}]", 0), "=", ".unsqueeze(1) + noise", "    ",
                        break_before=True)


def _r_target(coefficients: tuple[float, ...]) -> str:
    return _target_line(_weighted_sum(coefficients, "x[, {}]", 1), "<-", "$unsqueeze(2) + noise", "  ",
                        break_before=False)


def _assemble(header: StepCode, blocks: list[_Block], step: int) -> StepCode:
    """Step n (1-based): the header, the setup of steps 1..n, then step n's printing, each under its title."""
    parts = [header]
    for number, block in enumerate(blocks[:step], start=1):
        body = StepCode(block.setup.python + (block.show.python if number == step else ""),
                        block.setup.r + (block.show.r if number == step else ""))
        if body.python or body.r:
            parts.append(StepCode(f"\n# {block.title}\n{body.python}", f"\n# {block.title}\n{body.r}"))
    return StepCode("".join(p.python for p in parts), "".join(p.r for p in parts))


def _header(seed: int) -> StepCode:
    return StepCode(
        f"import torch\nfrom torch import nn\n\ntorch.manual_seed({seed})\n",
        f"library(torch)\n{_R_NOTE}\ntorch_manual_seed({seed})\n",
    )


def upstream_code(upstream: Upstream, batch: int, out_features: int) -> StepCode:
    """The line that makes g, the gradient handed to out.backward()."""
    if upstream.kind == "mean":
        return StepCode("g = torch.full_like(out, 1 / out.numel())  # d out.mean() / d out\n",
                        "g <- torch_ones_like(out) / out$numel()  # d out$mean() / d out\n")
    if upstream.kind == "sum":
        return StepCode("g = torch.ones_like(out)  # d out.sum() / d out\n",
                        "g <- torch_ones_like(out)  # d out$sum() / d out\n")
    value = _number(upstream.fill(batch * out_features))
    # `repeat` is an R keyword, so R's torch method needs backticks.
    r_repeat = f"$`repeat`({batch})$unsqueeze(2)" if out_features == 1 else f"$`repeat`(c({batch}, {out_features}))"
    return StepCode(f"g = torch.tensor({value}).repeat({batch}, {out_features})  # same shape as out\n",
                    f"g <- torch_tensor({value}){r_repeat}  # same shape as out\n")


# ----------------------------------------------------------------- Layers ---

_WALK_PY = '''
def walk(fn, depth=0):
    """Print the graph below fn, one indent per next_functions level."""
    name = "None" if fn is None else type(fn).__name__
    leaf = f"  -> {tuple(fn.variable.shape)}" if hasattr(fn, "variable") else ""
    print("    " * depth + name + leaf)
    for child, _ in getattr(fn, "next_functions", ()):
        walk(child, depth + 1)


walk(out.grad_fn)
'''

_WALK_R = """out$grad_fn$next_functions  # bias's AccumulateGrad, x's (none), TBackward0
out$grad_fn$next_functions[[3]]$next_functions  # weight's AccumulateGrad
"""


def _linear_blocks(spec: LinearSpec, upstream: Upstream) -> list[_Block]:
    n_in, n_out, batch = spec.in_features, spec.out_features, spec.batch
    g = upstream_code(upstream, batch, n_out)
    return [
        _Block(
            "1. Create the layer: weight and bias start ~ U(-1/sqrt(in), 1/sqrt(in))",
            StepCode(f"layer = nn.Linear({n_in}, {n_out})\n", f"layer <- nn_linear({n_in}, {n_out})\n"),
            StepCode(f"print(layer)\nprint(layer.weight)  # ({n_out}, {n_in}): out x in\nprint(layer.bias)\n"
                     f"print(1 / {n_in} ** 0.5)  # the bound of the uniform range\n",
                     f"layer\nlayer$weight  # [ CPUFloatType{{{n_out},{n_in}}} ]\nlayer$bias\n1 / sqrt({n_in})\n"),
        ),
        _Block(
            "2. Call it on a batch: out = x @ weight.T + bias",
            StepCode(f"x = torch.randn({batch}, {n_in})\nout = layer(x)  # ({batch}, {n_out})\n",
                     f"x <- torch_randn({batch}, {n_in})\nout <- layer(x)\n"),
            StepCode("print(out)\nprint(out.shape, out.grad_fn)\n" + _WALK_PY, "out\nout$grad_fn\n" + _WALK_R),
        ),
        _Block(
            "3. No gradients yet",
            _NOTHING,
            StepCode("print(layer.weight.grad, layer.bias.grad)  # None None\n",
                     "layer$weight$grad  # an undefined tensor: no backward() yet\nlayer$bias$grad\n"),
        ),
        _Block(
            "4. backward() on a non-scalar out fails",
            _NOTHING,
            StepCode("try:\n    out.backward()\nexcept RuntimeError as error:\n    print(error)\n",
                     "tryCatch(out$backward(), error = function(e) print(conditionMessage(e)))\n"),
        ),
        _Block(
            "5. Backward with an upstream gradient g",
            StepCode(g.python + "out.backward(gradient=g)\n", g.r + "out$backward(gradient = g)\n"),
            StepCode("print(layer.weight.grad, layer.bias.grad)\n"
                     "by_hand_weight = g.T @ x  # g^T x\n"
                     "by_hand_bias = g.sum(dim=0)  # sum of g over the batch\n"
                     "print(by_hand_weight, by_hand_bias)\n"
                     "print(torch.allclose(layer.weight.grad, by_hand_weight),\n"
                     "      torch.allclose(layer.bias.grad, by_hand_bias))\n",
                     "layer$weight$grad\nlayer$bias$grad\n"
                     "g$t()$matmul(x)  # by hand: g^T x\ng$sum(dim = 1)  # by hand: sum of g over the batch\n"),
        ),
        _Block(
            "6. Backward again without zeroing: gradients add up",
            StepCode("layer(x).backward(gradient=g)\n", "layer(x)$backward(gradient = g)\n"),
            StepCode("print(layer.weight.grad)  # twice step 5's\nprint(layer.bias.grad)\n"
                     "layer.zero_grad()\nprint(layer.weight.grad)  # None\nprint(layer.bias.grad)\n",
                     "layer$weight$grad  # twice step 5's\nlayer$bias$grad\n"
                     "layer$zero_grad()  # R's torch fills zeros in place\nlayer$weight$grad\nlayer$bias$grad\n"),
        ),
    ]


def linear_code(step: int, spec: LinearSpec, upstream: Upstream = Upstream()) -> StepCode:
    """The Layers page's step 1..6 as whole scripts."""
    return _assemble(_header(spec.seed), _linear_blocks(spec, upstream), step)


# ----------------------------------------------------------------- Models ---


def module_code(kind: str, in_features: int | None = None, out_features: int | None = None) -> StepCode:
    """'nn.Linear(3, 16)' / 'nn_linear(3, 16)', 'nn.ReLU()' / 'nn_relu()'."""
    if kind == "Linear":
        return StepCode(f"nn.Linear({in_features}, {out_features})", f"nn_linear({in_features}, {out_features})")
    r_names = {"LeakyReLU": "leaky_relu", "GELU": "gelu", "ReLU": "relu"}
    return StepCode(f"nn.{kind}()", f"nn_{r_names.get(kind, kind.lower())}()")


def sequential_lines(modules: list[StepCode]) -> StepCode:
    return StepCode("model = nn.Sequential(\n" + "".join(f"    {m.python},\n" for m in modules) + ")\n",
                    "model <- nn_sequential(\n" + ",\n".join(f"  {m.r}" for m in modules) + "\n)\n")


_PARAMETERS_PY = """for name, p in model.named_parameters():
    print(name, tuple(p.shape), p.numel(), p.device, p.dtype, p.requires_grad)
print("total:", sum(p.numel() for p in model.parameters()))
"""

_PARAMETERS_R = """for (name in names(model$parameters)) {
  p <- model$parameters[[name]]
  cat(name, "shape", dim(p), "count", p$numel(), "device", p$device$type,
      "requires_grad", p$requires_grad, "\\n")
}
cat("total:", sum(sapply(model$parameters, function(p) p$numel())), "\\n")
"""

_GRADIENTS_PY = """for name, module in model.named_children():
    if isinstance(module, nn.Linear):
        print(name, module.weight.grad, module.bias.grad)
        # units whose whole row of gradients is exactly zero: dead on this batch
        dead = (module.weight.grad == 0).all(dim=1) & (module.bias.grad == 0)
        print("units with zero gradient:", dead.nonzero().flatten().tolist())
"""

_GRADIENTS_R = """for (name in names(model$parameters)) {
  cat(name, "\\n")
  print(model$parameters[[name]]$grad)  # a row of zeros: a dead unit
}
"""

_DEVICE_PY = """for name, p in model.named_parameters():
    print(name, p.device, p.type(), p.grad.device, p.grad.type())
"""

_DEVICE_R = """for (name in names(model$parameters)) {
  p <- model$parameters[[name]]
  cat(name, p$device$type, p$grad$device$type, "\\n")
}
model$parameters[[1]]$grad  # the footer names it: CPUFloatType or CUDAFloatType
"""


def _sequential_blocks(spec: SequentialSpec, upstream: Upstream, index: int, device: str) -> list[_Block]:
    linears = spec.linears()
    g = upstream_code(upstream, spec.batch, int(linears[-1][1].out_features) if linears else 1)  # type: ignore[arg-type]
    model = sequential_lines([module_code(*layer) for layer in spec.layers])
    return [
        _Block("1. Build the model", model, StepCode("print(model)\n", "model\n")),
        _Block("2. Its parameters", _NOTHING, StepCode(_PARAMETERS_PY, _PARAMETERS_R)),
        _Block(
            "3. A sub-module: Python counts from 0, R from 1",
            _NOTHING,
            StepCode(f"print(model[{index}])\nfor name, p in model[{index}].named_parameters():\n    print(name, p)\n",
                     f"model[[{index + 1}]]  # the same module as Python's model[{index}]\n"
                     f"model[[{index + 1}]]$parameters\n"),
        ),
        _Block(
            "4. Forward a batch, backward with an upstream gradient g",
            StepCode(f"x = torch.randn({spec.batch}, {spec.in_features})\nout = model(x)\n" + g.python
                     + "out.backward(gradient=g)\n",
                     f"x <- torch_randn({spec.batch}, {spec.in_features})\nout <- model(x)\n" + g.r
                     + "out$backward(gradient = g)\n"),
            StepCode(_GRADIENTS_PY, _GRADIENTS_R),
        ),
        _Block(
            "5. Move it to a device: every parameter and its .grad move",
            StepCode(f'model.to("{device}")\n', f'model$to(device = "{device}")\n'),
            StepCode(_DEVICE_PY, _DEVICE_R),
        ),
    ]


def sequential_code(step: int, spec: SequentialSpec, upstream: Upstream = Upstream(), index: int = 0,
                    device: str = "cpu") -> StepCode:
    """The Models page's step 1..5 as whole scripts."""
    return _assemble(_header(spec.seed), _sequential_blocks(spec, upstream, index, device), step)


# ------------------------------------------------------------------ Train ---


def _model_modules(config: Config) -> list[StepCode]:
    sizes = config.layer_sizes()
    modules = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        modules += [module_code("Linear", n_in, n_out), module_code(config.model.activation)]
    return modules + [module_code("Linear", sizes[-2], sizes[-1])]


def _query(config: Config) -> str:
    return "&".join(f"{name}={value}" for name, value in config.to_query_params().items())


# Per optimizer: the line that makes it, before the loop, and the update, inside the loop.
_OPTIMIZERS = {
    "manual_sgd": StepCode("", ""),  # the lesson's own update, in the loop
    "sgd": StepCode("optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)\n",
                    "optimizer <- optim_sgd(model$parameters, lr = learning_rate)\n"),
    "adam": StepCode("optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)\n",
                     "optimizer <- optim_adam(model$parameters, lr = learning_rate)\n"),
}
_OPTIMIZER_STEP = StepCode("    optimizer.step()\n", "  optimizer$step()\n")
_UPDATES = {
    "manual_sgd": StepCode(
        "    with torch.no_grad():\n        for p in model.parameters():\n            p.sub_(learning_rate * p.grad)\n",
        "  with_no_grad({\n    for (p in model$parameters) p$sub_(learning_rate * p$grad)\n  })\n"),
    "sgd": _OPTIMIZER_STEP,
    "adam": _OPTIMIZER_STEP,
}


def training_script(config: Config) -> str:
    """A standalone script that trains the config's run exactly as core.trainer.Trainer does.

    Same order of random draws (seed, data, then the weights; the split and the shuffle from
    generators of their own), the same loss, penalty and update, and the lesson's printout every
    10 epochs, so it prints the app's losses (and test losses and accuracies).
    """
    data, training = config.data, config.training
    batches = training.batch_size > 0
    imports = "import math\n\n" if data.dataset in ("circle", "spiral") else ""
    imports += "import torch\nfrom torch import nn\n"
    if batches:
        imports += "from torch.utils.data import DataLoader, TensorDataset\n"
    to_device = "x, y, model = x.to(device), y.to(device), model.to(device)\n"
    if training.test_fraction:
        to_device += "x_test, y_test = x_test.to(device), y_test.to(device)\n"
    loop = _batch_loop(config) if batches else _full_batch_loop(config)
    return f'''"""Module Lab's Train page run as a script: python train_module_lab.py

Config (the app's URL parameters): ?{_query(config)}
Prints "{_printed(config)}" every 10 epochs, the numbers the app shows for this config.
"""

{imports}
torch.manual_seed({training.seed})  # one seed, then data and weights drawn in this order

{_python_data(config)}
{_python_split(config)}{sequential_lines(_model_modules(config)).python}
device = torch.device("{training.device}")
{to_device}learning_rate = {_number(training.learning_rate)}
epochs = {training.epochs}
{_python_settings(config)}{_OPTIMIZERS[training.optimizer].python}
{loop}'''


def _printed(config: Config) -> str:
    """What a printed line holds, for the docstring."""
    text = "Epoch: e  Loss: l"
    if config.training.test_fraction:
        text += "  Test loss: t"
    if config.data.classification:
        text += "  Accuracy: a" + ("  Test accuracy: b" if config.training.test_fraction else "")
    return text


def _python_data(config: Config) -> str:
    data = config.data
    n = data.n_samples
    if not data.classification:
        std = _number(data.noise_std)
        return f"""# Data: x ~ N(0, 1), shape ({n}, {data.n_features}); noise ~ N(0, {std}^2) and y, shape ({n}, 1).
# y is written term by term, not x @ coefficients, whose rounding depends on the CPU.
x = torch.randn({n}, {data.n_features})
noise = torch.randn({n}, 1) * {_number(data.noise_std)}
{_python_target(data.coefficients)}
"""
    n1, n0 = n - n // 2, n // 2
    noise = (f"x = x + torch.randn({n}, 2) * {_number(POSITION_NOISE * data.noise_std)}"
             f"  # noise: {_number(POSITION_NOISE)} * noise_std\n")
    labels = (f"y = torch.cat([torch.ones({n1}), torch.zeros({n0})]).unsqueeze(1)"
              f"  # {n1} of class 1, then {n0} of class 0\n")
    head = (f'# Data: the "{data.dataset}" set, {n} points on the plane: x of shape ({n}, 2), labels y of shape '
            f"({n}, 1),\n# 1.0 or 0.0. The model outputs one logit per row: above 0 says class 1.\n")
    if data.dataset == "circle":
        return head + (
            "# Class 1 inside radius 0.5, class 0 on a ring from 0.7 to 1, at uniform angles.\n"
            f"radius = torch.cat([torch.rand({n1}) * 0.5, 0.7 + torch.rand({n0}) * 0.3])\n"
            f"angle = torch.rand({n}) * (2 * math.pi)\n"
            "x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)\n" + noise + labels)
    if data.dataset == "xor":
        return head + (
            f"x = torch.rand({n}, 2) * 2 - 1  # uniform on the square [-1, 1]^2\n"
            f"x = x + torch.sign(x) * {_number(XOR_PADDING)}  # off the axes, where the label flips\n"
            "y = (x[:, 0] * x[:, 1] > 0).float().unsqueeze(1)  # 1 where x1 and x2 have the same sign\n" + noise)
    if data.dataset == "gauss":
        spread = _number(GAUSS_SPREAD + GAUSS_NOISE * data.noise_std)
        return head + labels + (
            "centre = y * 1.2 - 0.6  # (n, 1): blobs around (0.6, 0.6) for class 1, (-0.6, -0.6) for class 0\n"
            f"x = centre + torch.randn({n}, 2) * {spread}"
            f"  # std: {_number(GAUSS_SPREAD)} + {_number(GAUSS_NOISE)} * noise_std\n")
    return head + (  # spiral
        "\n\ndef spiral_arm(m, turn):\n"
        '    """m points along one arm, evenly spaced in radius from 0 to 1, turned by `turn` radians."""\n'
        "    radius = torch.arange(m) / m\n"
        f"    angle = radius * ({_number(SPIRAL_TURNS)} * 2 * math.pi) + turn\n"
        "    return torch.stack([radius * torch.sin(angle), radius * torch.cos(angle)], dim=1)\n\n\n"
        f"x = torch.cat([spiral_arm({n1}, 0.0), spiral_arm({n0}, math.pi)])  # the arms half a turn apart\n"
        + noise + labels)


def _python_split(config: Config) -> str:
    fraction, n = config.training.test_fraction, config.data.n_samples
    if not fraction:
        return ""
    held = test_rows(n, fraction)
    return f"""# Hold out {held} of the {n} rows ({_number(fraction)}) as test data, once, by a permutation \
from a generator
# of its own: the weights below are drawn as they would be without a split.
order = torch.randperm({n}, generator=torch.Generator().manual_seed({config.training.seed}))
x_test, y_test = x[order[:{held}]], y[order[:{held}]]
x, y = x[order[{held}:]], y[order[{held}:]]

"""


def _python_settings(config: Config) -> str:
    """Penalties, the loss function and the DataLoader, where the config uses them."""
    training, lines = config.training, ""
    if training.l1:
        lines += f"l1 = {_number(training.l1)}  # weight of the L1 penalty\n"
    if training.l2:
        lines += f"l2 = {_number(training.l2)}  # weight of the L2 penalty (weight decay)\n"
    if config.data.classification:
        lines += (f'loss_fn = nn.BCEWithLogitsLoss(reduction="{training.reduction}")\n'
                  "# It takes logits: the sigmoid is inside the loss, computed stably, so the model ends in a\n"
                  "# plain nn.Linear; torch.sigmoid(model(x)) gives the probability of class 1.\n")
    if training.batch_size:
        lines += ("shuffle = torch.Generator()  # reseeded every epoch: the order depends on the seed and epoch alone\n"
                  f"loader = DataLoader(TensorDataset(x, y), batch_size={training.batch_size}, shuffle=True, "
                  "generator=shuffle)\n")
    return lines


def _loss_line(config: Config, y_pred: str, y: str) -> str:
    if config.data.classification:
        return f"loss_fn({y_pred}, {y})"
    return f"({y_pred} - {y}).pow(2).{config.training.reduction}()"


def _penalty_lines(config: Config) -> str:
    """The penalties added to the loss, after keeping the loss the chart shows."""
    training = config.training
    if not (training.l1 or training.l2):
        return ""
    lines = "data_loss = loss.detach()  # the loss the app charts: without the penalties, like the test loss\n"
    if training.l1:
        lines += "loss = loss + l1 * sum(p.abs().sum() for p in model.parameters())  # L1 penalty\n"
    if training.l2:
        lines += "loss = loss + l2 * sum(p.pow(2).sum() for p in model.parameters())  # L2 penalty: weight decay\n"
    return lines


def _test_lines(config: Config) -> str:
    if not config.training.test_fraction:
        return ""
    accuracy = ("        test_accuracy = ((test_pred > 0).float() == y_test).sum().item() / len(y_test)\n"
                if config.data.classification else "")
    return ("    # The test rows, with the weights this epoch starts from: eval() for layers such as dropout,\n"
            "    # no_grad() as nothing here is trained.\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        test_pred = model(x_test)\n"
            f"        test_loss = {_loss_line(config, 'test_pred', 'y_test')}.item()\n" + accuracy +
            "    model.train()\n")


def _print_line(config: Config, loss: str) -> str:
    text = f"Epoch: {{epoch}}  Loss: {{{loss}:.6f}}"
    if config.training.test_fraction:
        text += "  Test loss: {test_loss:.6f}"
    if config.data.classification:
        text += "  Accuracy: {accuracy:.1%}"
        if config.training.test_fraction:
            text += "  Test accuracy: {test_accuracy:.1%}"
    return f'print(f"{text}")'


_DIVERGED = 'print(f"Diverged at epoch {epoch}: try a smaller learning_rate or the mean reduction")'


def _indented(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(keepends=True))


def _full_batch_loop(config: Config) -> str:
    """The lesson's loop, with the test rows, accuracy and penalties where the config has them."""
    kept = "data_loss" if _penalty_lines(config) else "loss"
    accuracy = ("    accuracy = ((y_pred > 0).float() == y).sum().item() / len(y)\n"
                if config.data.classification else "")
    return f"""for epoch in range(1, epochs + 1):
{_test_lines(config)}    y_pred = model(x)
    loss = {_loss_line(config, "y_pred", "y")}
{accuracy}{_indented(_penalty_lines(config), 4)}    model.zero_grad()
    loss.backward()
    if epoch % 10 == 0:
        {_print_line(config, f"{kept}.item()")}
    # Like the app, stop before updating once the loss or a gradient is NaN or infinite.
    norms = [torch.linalg.vector_norm(p.grad) for p in model.parameters()]
    if not torch.isfinite(torch.stack([{kept}.detach(), *norms])).all():
        {_DIVERGED}
        break
{_UPDATES[config.training.optimizer].python}"""


def _batch_loop(config: Config) -> str:
    """One pass over the shuffled training rows an epoch, an update after every batch."""
    training = config.training
    kept = "data_loss" if _penalty_lines(config) else "loss"
    classify = config.data.classification
    if training.reduction == "mean":
        add = f"total += {kept}.item() * len(xb)  # the mean reduction: each batch's mean weighted by its rows"
        epoch_loss = "train_loss = total / len(x)  # the mean over every training row, as its batch met it"
    else:
        add = f"total += {kept}.item()  # the sum reduction: the batches' sums add up"
        epoch_loss = "train_loss = total  # the sum over every training row, as its batch met it"
    count = "        right += ((y_pred > 0).float() == yb).sum().item()\n" if classify else ""
    accuracy = "    accuracy = right / len(x)\n" if classify else ""
    start = "total, right, diverged = 0.0, 0, False" if classify else "total, diverged = 0.0, False"
    return f"""for epoch in range(1, epochs + 1):
{_test_lines(config)}    shuffle.manual_seed({training.seed} + epoch)
    {start}
    for xb, yb in loader:
        y_pred = model(xb)
        loss = {_loss_line(config, "y_pred", "yb")}
{count}{_indented(_penalty_lines(config), 8)}        model.zero_grad()
        loss.backward()
        # Like the app, stop before updating once the loss or a gradient is NaN or infinite.
        norms = [torch.linalg.vector_norm(p.grad) for p in model.parameters()]
        if not torch.isfinite(torch.stack([{kept}.detach(), *norms])).all():
            diverged = True
            break
        {add}
{_indented(_UPDATES[training.optimizer].python, 4)}    if diverged:
        {_DIVERGED}
        break
    {epoch_loss}
{accuracy}    if epoch % 10 == 0:
        {_print_line(config, "train_loss")}
"""


def r_training_script(config: Config) -> str:
    """The same run in R's torch (numbers may differ from Python's; the steps are the same)."""
    training = config.training
    batches = training.batch_size > 0
    loop = _r_batch_loop(config) if batches else _r_full_batch_loop(config)
    to_device = "x <- x$to(device = device)\ny <- y$to(device = device)\n"
    if training.test_fraction:
        to_device += "x_test <- x_test$to(device = device)\ny_test <- y_test$to(device = device)\n"
    return f'''# Module Lab's Train page run in R's torch: Rscript train_module_lab.R
# Config (the app's URL parameters): ?{_query(config)}
library(torch)
{_R_NOTE}
torch_manual_seed({training.seed})

{_r_data(config)}
{_r_split(config)}{sequential_lines(_model_modules(config)).r}
device <- torch_device("{training.device}")
{to_device}model$to(device = device)
learning_rate <- {_number(training.learning_rate)}
{_r_settings(config)}{_OPTIMIZERS[training.optimizer].r}
{loop}'''


def _r_data(config: Config) -> str:
    data = config.data
    n = data.n_samples
    if not data.classification:
        return (f"x <- torch_randn({n}, {data.n_features})\nnoise <- torch_randn({n}, 1) * {_number(data.noise_std)}\n"
                f"{_r_target(data.coefficients)}\n")
    n1, n0 = n - n // 2, n // 2
    noise = f"x <- x + torch_randn({n}, 2) * {_number(POSITION_NOISE * data.noise_std)}\n"
    labels = f"y <- torch_cat(list(torch_ones({n1}), torch_zeros({n0})))$unsqueeze(2)  # class 1, then class 0\n"
    head = f'# The "{data.dataset}" set: x of shape ({n}, 2), labels y of shape ({n}, 1), 1 or 0\n'
    if data.dataset == "circle":
        return head + (
            f"radius <- torch_cat(list(torch_rand({n1}) * 0.5, 0.7 + torch_rand({n0}) * 0.3))\n"
            f"angle <- torch_rand({n}) * (2 * pi)\n"
            "x <- torch_stack(list(radius * torch_cos(angle), radius * torch_sin(angle)), dim = 2)\n"
            + noise + labels)
    if data.dataset == "xor":
        return head + (
            f"x <- torch_rand({n}, 2) * 2 - 1\n"
            f"x <- x + torch_sign(x) * {_number(XOR_PADDING)}\n"
            "y <- (x[, 1] * x[, 2] > 0)$to(dtype = torch_float())$unsqueeze(2)\n" + noise)
    if data.dataset == "gauss":
        return head + labels + (
            "centre <- y * 1.2 - 0.6\n"
            f"x <- centre + torch_randn({n}, 2) * {_number(GAUSS_SPREAD + GAUSS_NOISE * data.noise_std)}\n")
    return head + (  # spiral
        "spiral_arm <- function(m, turn) {\n"
        "  radius <- torch_arange(0, m - 1) / m  # R's torch_arange includes its end\n"
        f"  angle <- radius * ({_number(SPIRAL_TURNS)} * 2 * pi) + turn\n"
        "  torch_stack(list(radius * torch_sin(angle), radius * torch_cos(angle)), dim = 2)\n"
        "}\n"
        f"x <- torch_cat(list(spiral_arm({n1}, 0), spiral_arm({n0}, pi)))\n" + noise + labels)


def _r_split(config: Config) -> str:
    fraction, n = config.training.test_fraction, config.data.n_samples
    if not fraction:
        return ""
    held = test_rows(n, fraction)
    return (f"# Hold out {held} of the {n} rows as test data (R counts rows from 1)\n"
            f"order <- as.integer(torch_randperm({n})) + 1L\n"
            f"x_test <- x[order[1:{held}], , drop = FALSE]\ny_test <- y[order[1:{held}], , drop = FALSE]\n"
            f"x <- x[order[{held + 1}:{n}], , drop = FALSE]\ny <- y[order[{held + 1}:{n}], , drop = FALSE]\n\n")


def _r_settings(config: Config) -> str:
    training, lines = config.training, ""
    if training.l1:
        lines += f"l1 <- {_number(training.l1)}\n"
    if training.l2:
        lines += f"l2 <- {_number(training.l2)}\n"
    if config.data.classification:
        lines += (f'loss_fn <- nn_bce_with_logits_loss(reduction = "{training.reduction}")  # takes logits; '
                  "torch_sigmoid() gives probabilities\n")
    if training.batch_size:
        lines += f"loader <- dataloader(tensor_dataset(x, y), batch_size = {training.batch_size}, shuffle = TRUE)\n"
    return lines


def _r_loss(config: Config, y_pred: str, y: str) -> str:
    if config.data.classification:
        return f"loss_fn({y_pred}, {y})"
    return f"({y_pred} - {y})$pow(2)${config.training.reduction}()"


def _r_penalty(config: Config, indent: str) -> str:
    training, lines = config.training, ""
    if training.l1 or training.l2:
        lines += f"{indent}data_loss <- loss$item()  # the loss the app charts, without the penalties\n"
    if training.l1:
        lines += f"{indent}loss <- loss + l1 * Reduce(`+`, lapply(model$parameters, function(p) p$abs()$sum()))\n"
    if training.l2:
        lines += f"{indent}loss <- loss + l2 * Reduce(`+`, lapply(model$parameters, function(p) p$pow(2)$sum()))\n"
    return lines


def _r_test(config: Config) -> str:
    if not config.training.test_fraction:
        return ""
    accuracy = ("    test_accuracy <- ((test_pred > 0)$to(dtype = torch_float()) == y_test)$sum()$item() / "
                "y_test$size(1)\n" if config.data.classification else "")
    return ("  model$eval()\n  with_no_grad({\n    test_pred <- model(x_test)\n"
            f"    test_loss <- {_r_loss(config, 'test_pred', 'y_test')}$item()\n" + accuracy
            + "  })\n  model$train()\n")


def _r_print(config: Config, loss: str) -> str:
    text, values = "Epoch: %d  Loss: %.6f", ["epoch", loss]
    if config.training.test_fraction:
        text, values = text + "  Test loss: %.6f", [*values, "test_loss"]
    if config.data.classification:
        text, values = text + "  Accuracy: %.1f%%", [*values, "100 * accuracy"]
        if config.training.test_fraction:
            text, values = text + "  Test accuracy: %.1f%%", [*values, "100 * test_accuracy"]
    return f'cat(sprintf("{text}\\n", {", ".join(values)}))'


def _r_full_batch_loop(config: Config) -> str:
    training = config.training
    penalty = training.l1 or training.l2
    accuracy = ("  accuracy <- ((y_pred > 0)$to(dtype = torch_float()) == y)$sum()$item() / y$size(1)\n"
                if config.data.classification else "")
    return f"""for (epoch in 1:{training.epochs}) {{
{_r_test(config)}  y_pred <- model(x)
  loss <- {_r_loss(config, "y_pred", "y")}
{accuracy}{_r_penalty(config, "  ")}  model$zero_grad()
  loss$backward()
  if (epoch %% 10 == 0) {_r_print(config, "data_loss" if penalty else "loss$item()")}
{_UPDATES[training.optimizer].r}}}
"""


def _r_batch_loop(config: Config) -> str:
    training = config.training
    penalty = training.l1 or training.l2
    classify = config.data.classification
    batch_loss = "data_loss" if penalty else "loss$item()"
    weight = " * xb$size(1)" if training.reduction == "mean" else ""
    divide = " / x$size(1)" if training.reduction == "mean" else ""
    count = "    right <- right + ((y_pred > 0)$to(dtype = torch_float()) == yb)$sum()$item()\n" if classify else ""
    accuracy = "  accuracy <- right / x$size(1)\n" if classify else ""
    return f"""for (epoch in 1:{training.epochs}) {{
{_r_test(config)}  total <- 0
{"  right <- 0" + chr(10) if classify else ""}  coro::loop(for (batch in loader) {{
    xb <- batch[[1]]
    yb <- batch[[2]]
    y_pred <- model(xb)
    loss <- {_r_loss(config, "y_pred", "yb")}
{count}{_r_penalty(config, "    ")}    total <- total + {batch_loss}{weight}
    model$zero_grad()
    loss$backward()
{_indented(_UPDATES[training.optimizer].r, 2)}  }})
  train_loss <- total{divide}
{accuracy}  if (epoch %% 10 == 0) {_r_print(config, "train_loss")}
}}
"""
