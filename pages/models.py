"""Models: an nn.Sequential of your layers, step by step, with the code behind each step beside its result."""

from __future__ import annotations

import streamlit as st

import pages.ui  # noqa: F401  (first, before torch: see pages/ui/__init__.py)
from core import lesson, sequential_lesson
from core.codegen import sequential_code
from pages.ui.common.code_panel import code_panel
from pages.ui.common.device_radio import device_radio
from pages.ui.lessons.widgets import (
    checked,
    keep_values,
    show_printout,
    show_tensor,
    step_columns,
    upstream_picker,
)
from viz.lesson import network_figure
from viz.training import gradients_figure


def defaults() -> dict[str, object]:
    """Widget defaults: the lesson's nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))."""
    st.session_state.setdefault("models_count", len(sequential_lesson.DEFAULT_LAYERS))
    values: dict[str, object] = {"models_seed": 7, "models_batch": 10, "models_index": 0, "models_device": "cpu",
                                 "models_upstream": "lesson", "models_constant": lesson.LESSON_CONSTANT}
    for i in range(st.session_state.models_count):
        layers = sequential_lesson.DEFAULT_LAYERS
        kind, n_in, n_out = layers[i] if i < len(layers) else ("Linear", 16, 16)
        values.update({f"models_kind_{i}": kind, f"models_in_{i}": n_in or 16, f"models_out_{i}": n_out or 16})
    return values


def resize(change: int) -> None:
    """Add a Linear (taking the last layer's output size) or remove the last layer."""
    count = st.session_state.models_count
    if change > 0:
        st.session_state[f"models_kind_{count}"] = "Linear"
        st.session_state[f"models_in_{count}"] = st.session_state.get(f"models_out_{count - 1}", 16)
        st.session_state[f"models_out_{count}"] = 1
    st.session_state.models_count = max(1, count + change)


def layer_editor() -> tuple[sequential_lesson.LayerSpec, ...]:
    """One row per module: its kind and, for a Linear, its sizes."""
    layers = []
    for i in range(st.session_state.models_count):
        kind_column, in_column, out_column = st.columns([2, 1, 1])
        kind = kind_column.selectbox(f"model[{i}]", lesson.LAYER_KINDS, key=f"models_kind_{i}")
        if kind != "Linear":
            layers.append(sequential_lesson.LayerSpec(kind))
            continue
        n_in = in_column.number_input("in_features", key=f"models_in_{i}", step=1)
        n_out = out_column.number_input("out_features", key=f"models_out_{i}", step=1)
        layers.append(sequential_lesson.LayerSpec(kind, n_in, n_out))
    add, remove = st.columns(2)
    add.button("Add Linear", key="models_add", icon=":material/add:", on_click=resize, args=(1,), width="stretch",
               disabled=len(layers) >= lesson.MAX_LAYERS)
    remove.button("Remove last", key="models_remove", icon=":material/remove:", on_click=resize, args=(-1,),
                  width="stretch", disabled=len(layers) <= 1)
    st.number_input("seed", key="models_seed", step=1, help="torch.manual_seed before the model is made")
    return tuple(layers)


def build() -> sequential_lesson.SequentialSpec:
    result, code = step_columns("1. Build an nn.Sequential", "Pick each module; an activation keeps the size.")
    with result:
        spec = sequential_lesson.SequentialSpec(layer_editor(), seed=st.session_state.models_seed)
        checked(spec.check, "These layers do not make a working nn.Sequential")
        st.plotly_chart(network_figure(spec.layer_sizes(), activations=spec.activations(), title="Your model"),
                        key="models_network")
    with code:
        code_panel(*sequential_code(1, spec), key="models_code_1")
    return spec


def parameters(spec: sequential_lesson.SequentialSpec) -> None:
    summary = sequential_lesson.describe_model(spec)
    result, code = step_columns("2. print(model) and named_parameters()", printout=summary.printed)
    with result:
        st.dataframe(summary.parameters, hide_index=True, width="stretch")
        st.markdown(f"Total: **{summary.total:,}** parameters. Names are `position.parameter`: activations "
                    "have none, so their positions are skipped.")
    with code:
        code_panel(*sequential_code(2, spec), key="models_code_2")


def index(spec: sequential_lesson.SequentialSpec) -> None:
    result, code = step_columns("3. Index a sub-module: model[i]")
    with result:
        if st.session_state.models_index >= len(spec.layers):
            st.session_state.models_index = 0  # the model got shorter
        position = st.selectbox("Position", range(len(spec.layers)), key="models_index",
                                format_func=lambda i: f"model[{i}]: {spec.layers[i].kind}")
        view = sequential_lesson.submodule(spec, position)
        show_printout(view.printed)
        for name, tensor in view.parameters.items():
            show_tensor(f"model[{position}].{name}", tensor)
        if not view.parameters:
            st.markdown("An activation has no parameters.")
        st.markdown(f"R's torch counts from 1: the same module is `model[[{position + 1}]]`.")
    with code:
        code_panel(*sequential_code(3, spec, index=position), key="models_code_3")


def gradients(spec: sequential_lesson.SequentialSpec) -> tuple[sequential_lesson.SequentialSpec, lesson.Upstream]:
    result, code = step_columns("4. Forward a batch, backward with an upstream gradient")
    with result:
        st.number_input("batch", key="models_batch", step=1, help=f"rows of x; 1 to {lesson.MAX_BATCH}")
        spec = sequential_lesson.SequentialSpec(spec.layers, st.session_state.models_batch, spec.seed)
        upstream = upstream_picker("models")
        run = checked(lambda: sequential_lesson.model_gradients(spec, upstream),
                      "This batch or gradient cannot be used")
        st.plotly_chart(gradients_figure(run.layers), key="models_gradients")
        for name, units in run.dead_units.items():
            if units:
                st.warning(f"Layer {name}: units {', '.join(map(str, units))} got exactly zero gradient (marked ×). "
                           "The activation after them passed nothing back for any row of this batch, as a ReLU "
                           "does wherever its input is negative, so they learn nothing from it: dead ReLUs.")
        with st.expander("Every gradient as torch prints it"):
            for name, printed in run.printed_grads.items():
                show_printout(f"{name}.grad\n{printed}")
    with code:
        code_panel(*sequential_code(4, spec, upstream), key="models_code_4")
    return spec, upstream


def device(spec: sequential_lesson.SequentialSpec, upstream: lesson.Upstream) -> None:
    result, code = step_columns("5. Move the model to a device")
    with result:
        choice = device_radio("models_device")
        try:
            moved = sequential_lesson.move_model(spec, upstream, choice)
        except RuntimeError as error:  # CUDA chosen but unusable: say why instead of a traceback
            st.error(str(error))
            return
        st.markdown("Before `model.to(...)`, after a backward (so every parameter has a gradient):")
        st.dataframe(moved.before, hide_index=True, width="stretch")
        st.markdown(f"After `model.to(\"{moved.device}\")`: each parameter and its `.grad` moved together.")
        st.dataframe(moved.after, hide_index=True, width="stretch")
    with code:
        code_panel(*sequential_code(5, spec, upstream, device=choice), key="models_code_5")


st.title("Models: nn.Sequential")
st.caption("Stack modules into an nn.Sequential, look inside it, follow the gradients through every layer and "
           "move it to a device. Beside each step: the PyTorch code that prints what you see, and its R equivalent.")
keep_values("models_values", defaults())
model = build()
parameters(model)
index(model)
device(*gradients(model))
