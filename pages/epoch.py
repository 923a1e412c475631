"""One epoch: the Train page's network stopped inside one pass of the lesson's loop, phase by phase.

The URL holds the Train page's config fields, `epoch` and `phase`; Back and Next rewrite the URL.
"""

from __future__ import annotations

from collections.abc import Generator

import streamlit as st

import pages.ui  # noqa: F401  (first-run fix, see pages/ui/__init__.py)
from core.codegen import r_training_script, training_script
from core.epoch import PHASES, EpochWalk, EpochWalker, graph_text, moved
from pages.ui.common.code_panel import code_panel
from pages.ui.common.limits import read_limits
from pages.ui.common.text import plain
from pages.ui.epoch.link import Request, epoch_query, read_request
from pages.ui.epoch.text import SENTENCES, grad_summary, lesson_loop, step_label
from server.gate import Refused, RunOwner, Work, run_in_turns
from viz import epoch as figures

TITLES = {"forward": "1 · forward", "loss": "2 · loss", "graph": "3 · the autograd graph", "zero_grad": "4 · zero_grad",
          "backward": "5 · backward", "update": "6 · update"}


def request() -> Request:
    """The URL's request, its config kept in the URL so that the page is a link to itself."""
    asked = read_request(st.query_params.to_dict(), st.session_state.get("train_values", {}), read_limits())
    if asked.errors:
        lines = "\n".join(f"- **{name}**: {plain(message)}" for name, message in asked.errors.items())
        st.error(f"This link's settings are not valid, so there is no epoch to show until they are fixed:\n\n{lines}")
        st.stop()
    wanted = epoch_query(asked.config, asked.epoch, asked.phase)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    return asked


def walk_of(asked: Request) -> EpochWalk:
    """This session's walk of the epoch, or the reason there is none."""
    try:
        walk = _walk(asked)
    except Refused as refused:  # over the budget, or past the wall-clock limit
        st.error(refused.message)
        code_panel(training_script(asked.config), r_training_script(asked.config), key="epoch_script",
                   download_name="train_module_lab.py")
    except ValueError as error:  # the run diverged before this epoch
        st.error(f"{str(error).capitalize()}. Go back to an earlier epoch, or use a smaller learning rate.")
    except RuntimeError as error:  # CUDA out of memory, a lost device
        st.session_state.epoch_walker = None  # its run may have stopped halfway through a step
        st.error(f"Could not walk this epoch on {asked.config.training.device}: {error}.")
    else:
        if walk is not None:
            return walk
    st.stop()  # also when a newer script run took the walk over: that one draws the page
    raise AssertionError("unreachable: st.stop raises")


def _walk(asked: Request) -> EpochWalk | None:
    """The walker (its run) is kept in the session, so Next into the next epoch costs one training step.
    The training goes through the server's queue like a Train page run, its progress on screen."""
    owner: RunOwner = st.session_state.setdefault("epoch_owner", RunOwner())
    owner.claim()  # waits for a step an older script run of this page may be taking
    claim = owner.newest
    walker = st.session_state.get("epoch_walker")
    if walker is None or walker.config != asked.config:
        walker = st.session_state.epoch_walker = EpochWalker(asked.config)
    if walker.kept(asked.epoch):
        return walker.walk(asked.epoch)
    steps = walker.steps_before(asked.epoch) + EpochWalker.WALK_STEPS
    cost = Work(asked.config, steps, reaching=asked.epoch)
    label = f"Training from the seed to epoch {asked.epoch:,}, as the Train page did"
    return run_in_turns(walking(walker, asked.epoch), cost, read_limits(), owner, claim, st.empty(), label, walker)


def walking(walker: EpochWalker, epoch: int) -> Generator[int, None, EpochWalk]:
    """The steps to the epoch, then its walk (two steps' work), for run_in_turns."""
    yield from walker.steps_to(epoch)
    return walker.walk(epoch)


def go(asked: Request, steps: int) -> None:
    """Back (-1) or Next (+1): a phase on, the next epoch's forward after the update."""
    target = moved(asked.epoch, asked.phase, steps, asked.config.training.epochs)
    if target is not None:
        st.query_params.from_dict(epoch_query(asked.config, *target))


def navigation(asked: Request) -> None:
    epochs = asked.config.training.epochs
    back, where, forward = st.columns([1, 4, 1], vertical_alignment="center")
    back.button("Back", key="epoch_back", icon=":material/arrow_back:", on_click=go, args=(asked, -1),
                disabled=moved(asked.epoch, asked.phase, -1, epochs) is None, width="stretch")
    forward.button("Next", key="epoch_next", icon=":material/arrow_forward:", on_click=go, args=(asked, 1),
                   disabled=moved(asked.epoch, asked.phase, 1, epochs) is None, width="stretch", type="primary")
    steps = " → ".join(f"**{p}**" if p == asked.phase else p for p in PHASES)
    where.markdown(f"Epoch **{asked.epoch}** → {asked.epoch + 1} of {epochs} · {steps}")


def show_forward(walk: EpochWalk) -> None:
    st.plotly_chart(figures.forward_figure(walk.forward), key="epoch_forward")
    lines = [f"x{'':14} {walk.x_shape}"] + [f"model[{m.name}] {m.module:<50} -> {m.shape}" for m in walk.forward]
    st.code("\n".join(lines), language="text")
    with st.expander("Each output as torch prints it"):
        for module in walk.forward:
            st.code(f"model[{module.name}]: {module.module}\n{module.printed}", language="text")


def show_loss(walk: EpochWalk) -> None:
    st.metric("loss", f"{walk.loss.loss:.6g}")
    st.plotly_chart(figures.loss_figure(walk.loss), key="epoch_loss")


def show_graph(walk: EpochWalk) -> None:
    st.plotly_chart(figures.graph_figure(walk.graph.nodes, walk.graph.edges), key="epoch_graph")
    with st.expander("The graph as text: each node's next_functions indented below it"):
        st.code(graph_text(walk.graph), language="text")


def show_zero_grad(walk: EpochWalk) -> None:
    rows = ["| parameter | `.grad` before `model.zero_grad()` | `.grad` after |", "|---|---|---|"]
    rows += [f"| `{name}` | {grad_summary(before)} | {grad_summary(walk.grads_after_zero[name])} |"
             for name, before in walk.grads_before_zero.items()]
    st.markdown("\n".join(rows))


def show_backward(walk: EpochWalk) -> None:
    st.markdown("Gradients computed in this order: " + " → ".join(f"`{name}`" for name in walk.backward_order))
    st.plotly_chart(figures.graph_figure(walk.graph.nodes, walk.graph.edges, show_order=True,
                                         title="backward(): each node numbered in the order autograd ran it"),
                    key="epoch_backward_graph")
    st.plotly_chart(figures.gradients_figure(walk.gradients, walk.grad_norms), key="epoch_gradients")


def show_update(walk: EpochWalk) -> None:
    before, after = st.columns(2)
    before.metric("loss before the update", f"{walk.loss.loss:.6g}")
    after.metric("loss after (the next epoch's)", f"{walk.loss_after:.6g}",
                 delta=f"{walk.loss_after - walk.loss.loss:.4g}",
                 delta_color="inverse")
    st.plotly_chart(figures.update_figure(walk.updates, step_label=step_label(walk)), key="epoch_update")


SHOW = {"forward": show_forward, "loss": show_loss, "graph": show_graph, "zero_grad": show_zero_grad,
        "backward": show_backward, "update": show_update}


def phase(asked: Request, walk: EpochWalk) -> None:
    """What happened beside the code, its lines marked ◀; then the phase's numbers, full width."""
    st.subheader(TITLES[asked.phase])
    if walk.diverged:
        st.warning("This epoch's loss or a gradient is NaN or infinite: the Train page stops the run here, and its "
                   "update leaves the weights as they were. A smaller learning rate or the mean reduction avoids it.")
    said, code = st.columns([2, 3], gap="large")
    said.info(SENTENCES[asked.phase](walk))
    with code:
        training = asked.config.training
        code_panel(*lesson_loop(training.optimizer, training.reduction, asked.phase), key="epoch_code")
    SHOW[asked.phase](walk)


st.title("One epoch")
st.caption("The Train page's network, stopped inside one pass of the lesson's loop. Every number comes from the "
           "real `nn.Sequential`: forward hooks, the loss's `grad_fn` graph and hooks during `backward()`. The "
           "settings come from the link (the Train page's **Inspect this epoch**) or from your Train settings.")
asked = request()
navigation(asked)
phase(asked, walk_of(asked))
