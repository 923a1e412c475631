"""The Train page's runs: the replay slider under the live view's charts, and the comparison of kept
runs (chart, table, settings back into the sidebar, CSV).

The comparison is drawn by each script run that does not train (paused, stopped, finished, before a
run); while a run trains, the live frames draw only that run, and the comparison catches up when it
pauses or ends.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core.config import FIELDS, Config
from core.exports import safe_csv
from core.runs import SNAPSHOT_BUDGET_BYTES, KeptRun, RunStore, differing_fields
from core.status import Status
from core.trainer import Trainer
from pages.ui.common.text import quoted
from pages.ui.train.archive import ENDED, keep_run, run_store
from pages.ui.train.live_view import Frame, chart, counter_frame, live_figures, text_frame
from pages.ui.train.sidebar import widget_value
from pages.ui.train.state import fill_snapshots
from server.limits import ServerLimits
from viz import training as figures
from viz.boundary import boundary_figures
from viz.runs import comparison_figure, mark_epoch

REPLAYABLE = (Status.PAUSED, *ENDED)
EDITABLE = {"show": "on the chart", "pin": "never dropped by the cap", "name": "double-click to rename"}


# ----------------------------------------------------------------- replay ---


def draw_run(live_view, trainer: Trainer, status: str, claim: int, limits: ServerLimits) -> None:
    """An idle run: kept if it ended, its charts drawn at the epoch the replay slider is on."""
    if status in ENDED:
        keep_run(trainer, status)
    epoch = trainer.epoch
    if status in REPLAYABLE and trainer.epoch >= 1:
        if not fill_snapshots(trainer, claim, limits):
            st.stop()  # a newer script run took the run over and draws the page
    if status in REPLAYABLE and trainer.epoch >= 1 and not trainer.snapshots_deferred:
        with live_view.replay.container():
            epoch = replay_slider(trainer)
    if epoch == trainer.epoch:
        live_view.draw(trainer)
    else:
        live_view.show(replay_frame(trainer, epoch, live_view.view["log_scale"]))


def replay_slider(trainer: Trainer) -> int:
    """The epoch to show, from the epochs the trainer kept a snapshot of and its last."""
    kept = sorted({*trainer.snapshots, trainer.epoch})
    number = run_store().number_of(trainer)
    # A key per run and epoch: a run that trains on starts the slider at its new last epoch.
    epoch = st.select_slider("Replay: epoch", kept, value=trainer.epoch, key=f"replay_epoch_{number}_{trainer.epoch}",
                             help="Scrub the weights, gradients and the charts' markers back through the run.")
    if len(kept) == trainer.epoch + 1:
        st.caption(f"Every epoch 0 to {trainer.epoch} is kept: epoch 0 shows the weights the run started from.")
    else:
        st.caption(f"Snaps to the {len(kept)} kept epochs of {trainer.epoch:,}: every epoch's weights would not fit "
                   f"the {SNAPSHOT_BUDGET_BYTES // 2**20} MB a run may keep, so early epochs are kept log-spaced "
                   "and the rest evenly spaced; epoch 0 and the last always.")
    return int(epoch)


def replay_frame(run: Trainer, epoch: int, log_scale: bool) -> Frame:
    """The idle run's charts with the weights and gradients of a kept `epoch`, marked on both curves."""
    history, snapshot = run.history, run.snapshots[epoch]
    loss = mark_epoch(live_figures(run, log_scale, slow=False)["loss"], epoch)
    norms = mark_epoch(figures.grad_norm_figure(history.epochs, history.grad_norms, epoch=epoch,
                                                total_epochs=run.config.training.epochs), epoch)
    frame = {"loss": chart("loss", False, loss)} | counter_frame(run) | text_frame(run)
    frame |= {"norms": chart("norms", False, norms),
              "weights": chart("weights", False, figures.weights_figure(snapshot.layers, epoch=epoch))}
    if all(layer.weight_grad is not None for layer in snapshot.layers):
        frame["gradients"] = chart("gradients", False, figures.gradients_figure(snapshot.layers, epoch=epoch))
    else:
        note = (f"Gradients at epoch {epoch}: every `weight.grad` and `bias.grad` is `None` "
                "until the first `loss.backward()`.")
        frame["gradients"] = lambda slot: slot.caption(note)
    if (data := run.plane(snapshot)) is not None:  # the boundary the weights of that epoch drew
        frame |= {name: chart(name, False, figure) for name, figure in boundary_figures(data, epoch=epoch).items()}
    return frame


# ---------------------------------------------------------------- compare ---


def runs_section(trainer: Trainer | None, status: str, max_runs: int) -> None:
    """The kept runs on one chart (with the current run), their table, and what to do with a row."""
    store = run_store(max_runs)
    if not store.runs:
        return
    st.subheader("Runs")
    if note := st.session_state.pop("runs_note", None):
        st.info(note)
    log_scale = st.toggle("Log-scale loss", value=True, key="runs_log_scale")
    st.plotly_chart(comparison_figure(curves(store, trainer), log_scale=log_scale), key="runs_chart")
    table = runs_table(store)
    version = st.session_state.setdefault("runs_table_version", 0)
    key = f"runs_table_{version}"
    st.data_editor(table, key=key, hide_index=True, width="stretch", disabled=[c for c in table if c not in EDITABLE],
                   column_config=column_config(), on_change=apply_edits, args=(key, [r.number for r in store.runs]))
    st.caption(f"One row per kept run; the settings that differ between the runs on the chart are columns. "
               f"At most {store.max_runs} runs are kept: the oldest unpinned goes first.")
    load_and_download(store)


def curves(store: RunStore, trainer: Trainer | None) -> list[tuple]:
    """The ticked kept runs' loss curves, and the current run's while it is not kept yet (paused): (name,
    epochs, losses), with (test epochs, test losses) after them where the run held rows out."""
    lines: list[tuple] = [(run.name, run.epochs, run.losses, *([run.test_curve] if run.test_curve else []))
                          for run in store.ticked()]
    if trainer is not None and trainer.epoch >= 1 and store.get(number := store.number_of(trainer)) is None:
        history = trainer.history
        test = [(history.epochs, history.test_losses)] if trainer.x_test is not None else []
        lines.append((f"run {number} (now)", history.epochs, history.losses, *test))
    return lines


def runs_table(store: RunStore, every_setting: bool = False) -> pd.DataFrame:
    """One row a kept run: the settings that differ between the ticked runs (all with `every_setting`)."""
    settings = list(FIELDS) if every_setting else differing_fields([run.config for run in store.ticked()])
    metrics = [column for column, has in (("test loss", any(not math.isnan(r.test_loss) for r in store.runs)),
                                          ("accuracy", any(not math.isnan(r.accuracy) for r in store.runs)),
                                          ("test accuracy", any(not math.isnan(r.test_accuracy) for r in store.runs)))
               if has]  # only where a kept run has them: a regression-only table stays as it was
    rows = [{"show": run.ticked, "pin": run.pinned, "name": run.name,
             **{name: FIELDS[name].format(run.config.values()[name]) for name in settings},
             "final loss": run.final_loss,
             **{column: value for column, value in final_metrics(run).items() if column in metrics},
             "R²": run.r_squared, "epochs": run.epochs_trained,
             "time (s)": round(run.seconds, 2), "outcome": run.outcome, "link": run_link(run.config)}
            for run in store.runs]
    return pd.DataFrame(rows)


def final_metrics(run: KeptRun) -> dict[str, float]:
    """The last epoch's test loss, and the accuracies as percentages (NaN where a run has none)."""
    return {"test loss": run.test_loss, "accuracy": 100 * run.accuracy, "test accuracy": 100 * run.test_accuracy}


def run_link(config: Config) -> str:
    """The Train page with this run's settings: every config is a URL."""
    return "train?" + urlencode(config.to_query_params())  # relative: Cloud serves the app below a path


def column_config() -> dict:
    return {"show": st.column_config.CheckboxColumn("show", help=EDITABLE["show"], width="small"),
            "pin": st.column_config.CheckboxColumn("pin", help=EDITABLE["pin"], width="small"),
            "name": st.column_config.TextColumn("name", help=EDITABLE["name"], max_chars=40),
            "final loss": st.column_config.NumberColumn("final loss", format="%.6g"),
            "test loss": st.column_config.NumberColumn("test loss", format="%.6g"),
            "accuracy": st.column_config.NumberColumn("accuracy", format="%.1f%%",
                                                      help="Training rows right, last epoch"),
            "test accuracy": st.column_config.NumberColumn("test accuracy", format="%.1f%%",
                                                           help="Held-out rows right, last epoch"),
            "R²": st.column_config.NumberColumn("R²", format="%.4f"),
            "link": st.column_config.LinkColumn("link", display_text="open", help="This run's settings as a link")}


def apply_edits(key: str, numbers: list[int]) -> None:
    """Ticks, pins and names edited in the table go to the store; a fresh table then shows them."""
    store = run_store()
    for row, changes in st.session_state[key].get("edited_rows", {}).items():
        number = numbers[int(row)]
        run = store.get(number)
        if run is None:
            continue
        run.ticked = bool(changes.get("show", run.ticked))
        run.pinned = bool(changes.get("pin", run.pinned))
        if "name" in changes:
            store.rename(number, str(changes["name"] or ""))
    st.session_state.runs_table_version += 1


def load_and_download(store: RunStore) -> None:
    left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    names = {run.number: run.name for run in store.runs}
    # A key per newest run: a widget keeps its pick across reruns, so without it a run kept later
    # would never become the default.
    pick = f"runs_pick_{store.runs[-1].number}"
    left.selectbox("Load a run's settings into the sidebar", list(names), format_func=names.get, key=pick,
                   index=len(names) - 1)
    middle.button("Load settings", key="btn_load_run", icon=":material/settings_backup_restore:", width="stretch",
                  on_click=load_settings, args=(pick,))
    csv = safe_csv(runs_table(store, every_setting=True).drop(columns=["show"]))
    right.download_button("Table as CSV", csv, file_name="module_lab_runs.csv", mime="text/csv", key="runs_csv",
                          icon=":material/download:", width="stretch")


def load_settings(pick: str) -> None:
    """The picked run's settings into the sidebar's widgets (their keys are the config's field names),
    before the widgets are drawn."""
    run: KeptRun | None = run_store().get(st.session_state.get(pick))
    if run is None:
        return
    for name, value in run.config.values().items():
        st.session_state[name] = widget_value(value)
    st.session_state.runs_note = f"Loaded the settings of {quoted(run.name)} into the sidebar."
