"""core.epoch against the same epoch written out in plain PyTorch, and the weights against the Trainer's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.config import ACTIVATIONS, Config, DataConfig, ModelConfig
from core.device import cuda_unavailable_reason
from core.epoch import MAX_KEPT_SAMPLES, PHASES, EpochWalker, graph_text, moved, walk_epoch
from core.trainer import Trainer

SMALL = dict(n_samples=20, hidden_sizes="5, 4")


def lesson_run(config: Config):
    """The lesson's data and model from the seed, written out: x, noise, then the weights."""
    torch.manual_seed(config.training.seed)
    x = torch.randn(config.data.n_samples, config.data.n_features)
    noise = torch.randn(config.data.n_samples, 1) * config.data.noise_std
    y = (x @ torch.tensor(config.data.coefficients)).unsqueeze(1) + noise
    sizes = config.layer_sizes()
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(n_in, n_out), getattr(nn, config.model.activation)()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-2], 1))
    return x, y, model


def lesson_loss(model, x, y, reduction):
    squared = (model(x) - y).pow(2)
    return squared.sum() if reduction == "sum" else squared.mean()


def lesson_epochs(config: Config, epochs: int):
    """The lesson's loop for `epochs` epochs: (x, y, model, optimizer) ready for the next one."""
    x, y, model = lesson_run(config)
    lr, kind = config.training.learning_rate, config.training.optimizer
    optimizer = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}.get(kind)
    optimizer = optimizer(model.parameters(), lr=lr) if optimizer else None
    for _ in range(epochs):
        lesson_step(model, x, y, config, optimizer)
    return x, y, model, optimizer


def lesson_step(model, x, y, config, optimizer) -> torch.Tensor:
    loss = lesson_loss(model, x, y, config.training.reduction)
    model.zero_grad()
    loss.backward()
    if optimizer is None:
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(config.training.learning_rate * p.grad)
    else:
        optimizer.step()
    return loss


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_phases_are_the_lessons_six():
    assert PHASES == ("forward", "loss", "graph", "zero_grad", "backward", "update")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_outputs_are_each_modules_output(activation):
    config = Config().replace(**SMALL, activation=activation)
    walk = EpochWalker(config).walk(2)
    x, y, model, _ = lesson_epochs(config, 2)
    outputs, h = [], x
    with torch.no_grad():
        for module in model:
            h = module(h)
            outputs.append(h.numpy())
    assert [m.name for m in walk.forward] == [str(i) for i in range(len(model))]
    assert [m.kind for m in walk.forward] == ["Linear", activation, "Linear", activation, "Linear"]
    assert walk.forward[0].shape == "torch.Size([20, 5])" and walk.forward[-1].shape == "torch.Size([20, 1])"
    for recorded, expected in zip(walk.forward, outputs):
        close(recorded.output, expected)


def test_a_relu_unit_that_outputs_zero_for_every_sample_is_dead():
    config = Config().replace(n_samples=20, hidden_sizes="32", seed=3)
    walk = EpochWalker(config).walk(0)
    relu = walk.forward[1].output
    assert walk.forward[1].dead_units == np.flatnonzero((relu == 0).all(axis=0)).tolist()
    assert walk.forward[1].dead_units, "seed 3 has a dead unit at the start"
    assert walk.forward[0].dead_units == []


def test_large_batches_keep_the_first_rows_and_find_dead_units_over_all_samples():
    config = Config().replace(n_samples=3000, hidden_sizes="16", seed=3)
    walk = EpochWalker(config).walk(0)
    x, _, model, _ = lesson_epochs(config, 0)
    with torch.no_grad():
        relu = model[1](model[0](x))
    assert walk.forward[1].output.shape == (MAX_KEPT_SAMPLES, 16) and walk.forward[1].samples == 3000
    assert walk.forward[1].shape == "torch.Size([3000, 16])"
    close(walk.forward[1].output, relu[:MAX_KEPT_SAMPLES].numpy())
    assert walk.forward[1].dead_units == torch.nonzero((relu == 0).all(dim=0)).flatten().tolist()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_parts_and_gradients_match_the_lesson(reduction):
    config = Config().replace(**SMALL, reduction=reduction)
    walk = EpochWalker(config).walk(3)
    x, y, model, _ = lesson_epochs(config, 3)
    loss = lesson_loss(model, x, y, reduction)
    model.zero_grad()
    loss.backward()
    y_pred = model(x).detach()
    close(walk.loss.y_pred, y_pred.numpy())
    close(walk.loss.residuals, (y_pred - y).numpy())
    close(walk.loss.squares, (y_pred - y).pow(2).numpy())
    assert walk.loss.loss == pytest.approx(loss.item(), rel=1e-6)
    for name, p in model.named_parameters():
        close(walk.gradients[name], p.grad.numpy())
        assert walk.grad_norms[name] == pytest.approx(p.grad.norm().item(), rel=1e-5)


def test_zero_grad_sets_every_grad_to_none():
    walker = EpochWalker(Config().replace(**SMALL))
    first, later = walker.walk(0), walker.walk(1)
    assert all(g is None for g in first.grads_before_zero.values())  # fresh weights: no backward yet
    for name, grad in later.grads_before_zero.items():  # the last epoch's gradients, until zero_grad()
        np.testing.assert_array_equal(grad, first.gradients[name])
    assert all(g is None for g in later.grads_after_zero.values())


def test_backward_computes_gradients_from_the_last_layer_to_the_first():
    walk = EpochWalker(Config().replace(**SMALL)).walk(0)
    assert walk.backward_order == ["4.bias", "4.weight", "2.bias", "2.weight", "0.bias", "0.weight"]


def test_graph_is_the_losses_grad_fn_down_to_named_accumulate_grad_leaves():
    walk = EpochWalker(Config()).walk(0)
    nodes = walk.graph.nodes
    assert [n.name for n in nodes[:4]] == ["SumBackward0", "PowBackward0", "SubBackward0", "AddmmBackward0"]
    assert [n.name for n in nodes].count("AddmmBackward0") == 2
    assert [n.name for n in nodes].count("ReluBackward0") == 1
    leaves = {n.label for n in nodes if n.name == "AccumulateGrad"}
    assert leaves == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert sorted(n.label for n in nodes if n.name == "None") == ["x", "y"]
    assert len(walk.graph.edges) == len(nodes) - 1  # a tree: each node but the loss's has one parent
    for parent, child in walk.graph.edges:
        assert nodes[child].depth == nodes[parent].depth + 1
    orders = sorted(n.backward_order for n in nodes if n.backward_order is not None)
    assert orders == list(range(1, len(nodes) - 1))  # every node but x's and y's ran once
    assert nodes[0].backward_order == 1


@pytest.mark.parametrize("activation,node", [("Tanh", "TanhBackward0"), ("Sigmoid", "SigmoidBackward0"),
                                             ("GELU", "GeluBackward0"), ("LeakyReLU", "LeakyReluBackward0")])
def test_graph_has_the_activations_own_node(activation, node):
    walk = EpochWalker(Config().replace(activation=activation, hidden_sizes="3, 3, 3, 3")).walk(0)
    names = [n.name for n in walk.graph.nodes]
    assert names.count(node) == 4 and names.count("AddmmBackward0") == 5 and names.count("AccumulateGrad") == 10


def test_mean_reduction_has_mean_at_the_top_and_identity_adds_no_node():
    walk = EpochWalker(Config().replace(reduction="mean", activation="Identity")).walk(0)
    names = [n.name for n in walk.graph.nodes]
    assert names[0] == "MeanBackward0" and not any("Identity" in n for n in names)


@pytest.mark.parametrize("optimizer", ["manual_sgd", "sgd", "adam"])
def test_update_and_weights_equal_the_trainers_at_each_epoch(optimizer):
    config = Config().replace(**SMALL, optimizer=optimizer, learning_rate=0.01)
    walker = EpochWalker(config)
    walk = walker.walk(4)
    trainer = Trainer(config)
    for _ in range(4):
        trainer.step()
    before = {name: p.detach().numpy().copy() for name, p in trainer.parameters.items()}
    record = trainer.step()
    assert walk.loss.loss == record.loss
    x, y, model, lesson_optimizer = lesson_epochs(config, 4)
    lesson_step(model, x, y, config, lesson_optimizer)
    for update, (name, p), (_, lesson_p) in zip(walk.updates, trainer.parameters.items(), model.named_parameters()):
        assert update.name == name
        np.testing.assert_array_equal(update.old, before[name])  # the Train page's weights at epoch 4
        np.testing.assert_array_equal(update.new, p.detach().numpy())  # and at epoch 5
        close(update.new, lesson_p.detach().numpy())
        close(update.old - update.step, update.new)
    if optimizer != "adam":
        for update in walk.updates:
            close(update.step, 0.01 * walk.gradients[update.name])
    with torch.no_grad():
        assert walk.loss_after == pytest.approx(lesson_loss(model, x, y, "sum").item(), rel=1e-5)
    assert walk.loss_after < walk.loss.loss


def test_adams_step_is_not_lr_times_grad():
    walk = EpochWalker(Config().replace(**SMALL, optimizer="adam", learning_rate=0.01)).walk(0)
    update = walk.updates[0]
    moved = walk.gradients[update.name] != 0  # a dead unit's row has zero gradient and does not move
    np.testing.assert_allclose(np.abs(update.step[moved]), 0.01, rtol=1e-4)  # Adam's first step: lr * sign(grad)
    assert moved.sum() > 1 and (update.step[~moved] == 0).all()
    assert not np.allclose(update.step, 0.01 * walk.gradients[update.name])


def test_no_hidden_layer_is_one_linear():
    config = Config(DataConfig(n_samples=10), ModelConfig(hidden_sizes=()))
    walk = EpochWalker(config).walk(0)
    assert [m.module for m in walk.forward] == ["Linear(in_features=3, out_features=1, bias=True)"]
    assert [n.name for n in walk.graph.nodes].count("AddmmBackward0") == 1


def test_walking_back_replays_the_run_and_the_trainer_is_not_stepped_twice():
    walker = EpochWalker(Config().replace(**SMALL))
    assert walker.steps_before(6) == 6
    later = walker.walk(6)
    assert walker.steps_before(6) == 0 and walker.steps_before(7) == 0 and walker.steps_before(9) == 2
    assert walker.steps_before(2) == 2  # back: replayed from the seed
    again = walker.walk(2)
    fresh = EpochWalker(Config().replace(**SMALL)).walk(2)
    assert again.loss.loss == fresh.loss.loss and later.epoch == 6 and again.epoch == 2
    assert walker.walk(3).loss.loss == pytest.approx(again.loss_after)
    assert walker.trainer.epoch == 4


def test_no_epoch_after_a_divergence():
    walker = EpochWalker(Config().replace(learning_rate=1.0))
    walks = [walker.walk(epoch) for epoch in range(2)]
    diverged = next(epoch for epoch in range(20) if _diverges(walker, epoch))
    assert not walks[0].diverged and diverged > 0
    with pytest.raises(ValueError, match=f"diverged at epoch {diverged + 1}"):
        walker.walk(diverged + 1)


def _diverges(walker: EpochWalker, epoch: int) -> bool:
    return walker.walk(epoch).diverged


def test_walk_epoch_leaves_the_trainer_one_epoch_on():
    trainer = Trainer(Config().replace(**SMALL))
    walk = walk_epoch(trainer)
    assert walk.epoch == 0 and trainer.epoch == 1 and trainer.history.losses == [walk.loss.loss]


@pytest.mark.skipif(cuda_unavailable_reason() is not None, reason="no CUDA here")
def test_cuda_walk_equals_the_cpu_walk():
    config = Config().replace(**SMALL)
    on_cuda = EpochWalker(config.replace(device="cuda")).walk(3)
    on_cpu = EpochWalker(config).walk(3)
    assert on_cuda.device == "cuda"
    assert on_cuda.loss.loss == pytest.approx(on_cpu.loss.loss, rel=1e-4)
    for name, grad in on_cpu.gradients.items():
        np.testing.assert_allclose(on_cuda.gradients[name], grad, rtol=1e-3, atol=1e-4)


def test_moved_walks_six_phases_then_the_next_epoch():
    assert moved(0, "forward", 1, 10) == (0, "loss")
    assert moved(0, "update", 1, 10) == (1, "forward")
    assert moved(1, "forward", -1, 10) == (0, "update")
    assert moved(0, "forward", -1, 10) is None
    assert moved(9, "update", 1, 10) is None  # past the run's last epoch
    assert moved(0, "forward", 6, 10) == (1, "forward")


def test_graph_text_indents_each_level():
    text = graph_text(EpochWalker(Config()).walk(0).graph).splitlines()
    assert text[:3] == ["SumBackward0", "    PowBackward0", "        SubBackward0"]
    assert "                AccumulateGrad  -> 2.bias" in text
