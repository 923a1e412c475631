"""The code behind every lesson step, in Python and in R's torch, as text.

Each step's script is whole and runnable: it repeats the setup lines of the steps before
it (seed, module, x, backward) and then prints what that step shows, with the same seed
and sizes as the lessons (core.linear_lesson, core.sequential_lesson), so it prints the numbers on screen. `training_script` does the
same for a Train page config: it reproduces core.trainer.Trainer epoch for epoch.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from core.config import Config
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

    Same order of random draws (seed, x, noise, then the weights), the same loss and
    update, and the lesson's printout every 10 epochs, so it prints the app's losses.
    """
    data, training = config.data, config.training
    n, features = data.n_samples, data.n_features
    reduction = training.reduction
    return f'''"""Module Lab's Train page run as a script: python train_module_lab.py

Config (the app's URL parameters): ?{_query(config)}
Prints "Epoch: e  Loss: l" every 10 epochs, the numbers the app shows for this config.
"""

import torch
from torch import nn

torch.manual_seed({training.seed})  # one seed, then data and weights drawn in this order

# Data: x ~ N(0, 1), shape ({n}, {features}); noise ~ N(0, {_number(data.noise_std)}^2) and y, shape ({n}, 1).
# y is written term by term, not x @ coefficients, whose rounding depends on the CPU.
x = torch.randn({n}, {features})
noise = torch.randn({n}, 1) * {_number(data.noise_std)}
{_python_target(data.coefficients)}

{sequential_lines(_model_modules(config)).python}
device = torch.device("{training.device}")
x, y, model = x.to(device), y.to(device), model.to(device)
learning_rate = {_number(training.learning_rate)}
epochs = {training.epochs}
{_OPTIMIZERS[training.optimizer].python}
for epoch in range(1, epochs + 1):
    y_pred = model(x)
    loss = (y_pred - y).pow(2).{reduction}()
    model.zero_grad()
    loss.backward()
    if epoch % 10 == 0:
        print(f"Epoch: {{epoch}}  Loss: {{loss.item():.6f}}")
    # Like the app, stop before updating once the loss or a gradient is NaN or infinite.
    norms = [torch.linalg.vector_norm(p.grad) for p in model.parameters()]
    if not torch.isfinite(torch.stack([loss.detach(), *norms])).all():
        print(f"Diverged at epoch {{epoch}}: try a smaller learning_rate or the mean reduction")
        break
{_UPDATES[training.optimizer].python}'''


def r_training_script(config: Config) -> str:
    """The same run in R's torch (numbers may differ from Python's; the steps are the same)."""
    data, training = config.data, config.training
    n, features = data.n_samples, data.n_features
    return f'''# Module Lab's Train page run in R's torch: Rscript train_module_lab.R
# Config (the app's URL parameters): ?{_query(config)}
library(torch)
{_R_NOTE}
torch_manual_seed({training.seed})

x <- torch_randn({n}, {features})
noise <- torch_randn({n}, 1) * {_number(data.noise_std)}
{_r_target(data.coefficients)}

{sequential_lines(_model_modules(config)).r}
device <- torch_device("{training.device}")
x <- x$to(device = device)
y <- y$to(device = device)
model$to(device = device)
learning_rate <- {_number(training.learning_rate)}
{_OPTIMIZERS[training.optimizer].r}
for (epoch in 1:{training.epochs}) {{
  y_pred <- model(x)
  loss <- (y_pred - y)$pow(2)${training.reduction}()
  model$zero_grad()
  loss$backward()
  if (epoch %% 10 == 0) cat(sprintf("Epoch: %d  Loss: %.6f\\n", epoch, loss$item()))
{_UPDATES[training.optimizer].r}}}
'''
