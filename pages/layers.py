"""Layers: one nn.Linear, step by step, with the code behind each step beside its result."""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st

import pages.ui  # noqa: F401  (first, before torch: see pages/ui/__init__.py)
from core import lesson, linear_lesson
from core.codegen import linear_code
from pages.ui.common.code_panel import code_panel
from pages.ui.lessons.widgets import (
    checked,
    keep_values,
    show_printout,
    show_tensor,
    step_columns,
    upstream_picker,
)
from viz.lesson import grad_fn_figure, init_range_figure

DEFAULTS = {"layers_in_features": 3, "layers_out_features": 1, "layers_seed": 7, "layers_batch": 10,
            "layers_upstream": "lesson", "layers_constant": lesson.LESSON_CONSTANT}
AGREE = ":green[:material/check_circle: autograd and the hand formula agree]"
DIFFER = ":red[:material/cancel: autograd and the hand formula differ]"


def create_layer() -> linear_lesson.LinearSpec:
    result, code = step_columns("1. Create nn.Linear(in_features, out_features)")
    with result:
        sizes = st.columns(3)
        sizes[0].number_input("in_features", key="layers_in_features", step=1, help=f"1 to {lesson.MAX_FEATURES}")
        sizes[1].number_input("out_features", key="layers_out_features", step=1, help=f"1 to {lesson.MAX_FEATURES}")
        sizes[2].number_input("seed", key="layers_seed", step=1, help="torch.manual_seed before the layer is made")
        state = st.session_state
        spec = linear_lesson.LinearSpec(state.layers_in_features, state.layers_out_features, seed=state.layers_seed)
        made = checked(lambda: linear_lesson.create_linear(spec), "This nn.Linear cannot be made")
        st.markdown(f"`print(layer)` gives `{made.printed}`. Its two parameters are already initialised:")
        show_tensor("layer.weight", made.weight)
        show_tensor("layer.bias", made.bias)
        st.markdown(f"Where the values come from: `nn.Linear` draws both from the uniform range "
                    f"±1/√in_features = ±1/√{spec.in_features} = ±{made.bound:.4f}, so a layer with more inputs "
                    "starts with smaller weights and its outputs keep about the same scale.")
        st.plotly_chart(init_range_figure(made.weight.values, made.bias.values, made.bound), key="layers_init")
    with code:
        code_panel(*linear_code(1, spec), key="layers_code_1")
    return spec


def forward(spec: linear_lesson.LinearSpec) -> linear_lesson.LinearSpec:
    result, code = step_columns("2. Call it on a batch: out = layer(x)")
    with result:
        st.number_input("batch", key="layers_batch", step=1, help=f"rows of x = torch.randn(batch, in_features); "
                        f"1 to {lesson.MAX_BATCH}")
        spec = dataclasses.replace(spec, batch=st.session_state.layers_batch)
        run = checked(lambda: linear_lesson.forward_linear(spec), "This batch cannot be used")
        with st.expander(f"x = torch.randn({spec.batch}, {spec.in_features})"):
            show_tensor("x", run.x)
        show_tensor("out", run.output)
        st.markdown(f"`out` carries `grad_fn = <{run.grad_fn}>`, the backward of `x @ weight.T + bias`. Its "
                    "`next_functions` lead down to the parameters, where `AccumulateGrad` writes into `.grad`:")
        st.code(linear_lesson.tree_text(run.graph), language="text")
        st.plotly_chart(grad_fn_figure(run.graph), key="layers_grad_fn")
    with code:
        code_panel(*linear_code(2, spec), key="layers_code_2")
    return spec


def no_gradients_yet(spec: linear_lesson.LinearSpec) -> None:
    result, code = step_columns("3. No gradients yet")
    with result:
        for name, text in linear_lesson.gradients_before_backward(spec).items():
            st.markdown(f"`layer.{name}` is `{text}`")
        st.markdown("The forward pass only recorded the graph; `.grad` is filled by `backward()`.")
    with code:
        code_panel(*linear_code(3, spec), key="layers_code_3")


def backward_without_gradient(spec: linear_lesson.LinearSpec) -> None:
    result, code = step_columns("4. out.backward() on a non-scalar output")
    with result:
        message = linear_lesson.backward_without_gradient(spec)
        if message is None:
            st.info("`out` has a single element here, so `backward()` works: torch starts from a gradient of 1. "
                    "With more than one element it raises the error this step is about.")
        else:
            st.error(f"RuntimeError: {message}", icon=":material/error:")
            st.markdown(f"Caught, not crashed. `backward()` computes the gradient of **one number**; `out` has "
                        f"{spec.batch * spec.out_features} elements, and torch cannot guess how they combine "
                        "(a sum? a mean?). So we pass that ourselves: `gradient=g`, one number per element of "
                        "`out`, meaning d(the number we care about)/d out.")
    with code:
        code_panel(*linear_code(4, spec), key="layers_code_4")


def backward_with_gradient(spec: linear_lesson.LinearSpec) -> lesson.Upstream:
    result, code = step_columns("5. Backward with an upstream gradient")
    with result:
        upstream = upstream_picker("layers")
        grads = checked(lambda: linear_lesson.backward_with_gradient(spec, upstream), "This gradient cannot be used")
        st.markdown(f"`g` has the shape of `out`, {grads.upstream.shape}, every element "
                    f"{upstream.fill(spec.batch * spec.out_features):g}.")
        for name, view, hand, formula, agrees in (
            ("weight.grad", grads.weight_grad, grads.weight_by_hand_printed, "g.T @ x", grads.weight_agrees),
            ("bias.grad", grads.bias_grad, grads.bias_by_hand_printed, "g.sum(dim=0)", grads.bias_agrees),
        ):
            st.markdown(f"`layer.{name}` · shape `{view.shape}` · `{view.type_label}`")
            show_printout(f"# autograd: layer.{name}\n{view.printed}\n# by hand: {formula}\n{hand}")
            st.markdown(AGREE if agrees else DIFFER)
    with code:
        code_panel(*linear_code(5, spec, upstream), key="layers_code_5")
    return upstream


def accumulation(spec: linear_lesson.LinearSpec, upstream: lesson.Upstream) -> None:
    result, code = step_columns("6. Backward twice without zeroing, then zero_grad()")
    with result:
        states = linear_lesson.accumulate_gradients(spec, upstream)
        for state in states:
            st.markdown(f"**{state.label}**: `print(layer.weight.grad)`, `print(layer.bias.grad)`")
            show_printout(state.printed)
        doubled = np.allclose(states[1].weight_grad, 2 * states[0].weight_grad, rtol=1e-5)
        st.markdown(("The second backward **added** to the first: twice the values. " if doubled else "")
                    + "That is why a training loop calls `zero_grad()` every step; it sets `.grad` back to `None`.")
    with code:
        code_panel(*linear_code(6, spec, upstream), key="layers_code_6")


st.title("Layers: one nn.Linear")
st.caption("Make a layer, call it, and follow the gradient back to its weight and bias, one step at a time. "
           "Beside each step: the PyTorch code that prints exactly what you see, and its R torch equivalent.")
keep_values("layers_values", DEFAULTS)
linear = forward(create_layer())
no_gradients_yet(linear)
backward_without_gradient(linear)
accumulation(linear, backward_with_gradient(linear))
