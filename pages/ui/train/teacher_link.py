"""The teacher's link: URL parameters that fix some settings and hide parts of the Train page.

    ?lock=all&unlock=learning_rate&hide=code        one exercise: only the learning rate can change
    ?hidden_sizes=2&lock=hidden_sizes,activation    fix the network, leave the rest free
    ?hide=sidebar,code,files                         no controls but the transport: watch a fixed run

`lock` names fields (or `all`) that keep the link's values: their widgets are disabled, and a
changed value (a widget message, a loaded checkpoint) is put back before every script run, so the
config always trains the link's values. `unlock` frees fields again after `lock=all`. `hide` names
fields (hidden fields are locked too) and page parts: `sidebar`, `code`, `files`. A visitor who
edits the link gets another exercise: the lock keeps a class on one task, it is not a security
boundary (the limits are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from core.config import FIELDS
from pages.ui.common.text import listed

LOCKABLE = (*FIELDS, "data_source")  # data_source: an uploaded CSV would replace the fixed data
PARTS = ("sidebar", "code", "files")  # page parts `hide` may name besides fields
LINK_PARAMS = ("lock", "unlock", "hide")


@dataclass(frozen=True)
class Exercise:
    """What a teacher's link fixes and hides; an empty one (no parameters) changes nothing."""

    locked: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()  # fields and PARTS
    params: tuple[tuple[str, str], ...] = ()  # the link's lock/unlock/hide, kept in the URL
    unknown: tuple[str, ...] = ()  # names in lock or unlock that are no setting
    unknown_hidden: tuple[str, ...] = ()  # names in hide that are neither a setting nor a part

    @property
    def active(self) -> bool:
        return bool(self.locked or self.hidden)

    @property
    def free(self) -> list[str]:
        return [name for name in FIELDS if name not in self.locked]


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_exercise(params: Mapping[str, str]) -> Exercise:
    """The exercise a link's query parameters describe; unknown names are reported, not fatal."""
    lock, unlock, hide = (_names(params.get(name, "")) for name in LINK_PARAMS)
    locked = set(LOCKABLE) if "all" in lock else set()
    unknown = [name for name in lock + unlock if name != "all" and name not in LOCKABLE]
    locked |= {n for n in lock if n in LOCKABLE}
    locked -= set(unlock)
    hidden = {name for name in hide if name in LOCKABLE or name in PARTS}
    unknown_hidden = [name for name in hide if name not in hidden]
    locked |= hidden & set(LOCKABLE)
    if "sidebar" in hidden:
        locked |= set(LOCKABLE)
    if any(name in locked for name in FIELDS):
        locked.add("data_source")
    kept = tuple((name, params[name]) for name in LINK_PARAMS if params.get(name))
    return Exercise(frozenset(locked), frozenset(hidden), kept, tuple(unknown), tuple(unknown_hidden))


def exercise_text(exercise: Exercise) -> str:
    """What the page says the exercise is: which settings the visitor may change."""
    free = [name.replace("_", " ") for name in exercise.free]
    if not free:
        task = "the settings are fixed by this link: press **Train** and watch what the network does"
    elif len(free) == 1:
        task = f"change only the **{free[0]}**"
    else:
        task = "change only " + ", ".join(f"**{name}**" for name in free[:-1]) + f" and **{free[-1]}**"
    return f"**Exercise**: {task}. This is a teacher's link, so the other settings keep the link's values."


def load(params: Mapping[str, str], values: Mapping[str, object]) -> None:
    """First load of a session: the exercise from the link, and the values its locked fields keep."""
    exercise = parse_exercise(params)
    st.session_state.exercise = exercise
    st.session_state.exercise_values = {name: values[name] for name in exercise.locked if name in values}


def exercise() -> Exercise:
    return st.session_state.get("exercise", Exercise())


def pin() -> None:
    """Put the link's values back into locked fields, before their widgets are drawn."""
    for name, value in st.session_state.get("exercise_values", {}).items():
        st.session_state[name] = value


def locked(name: str) -> bool:
    return name in exercise().locked


def shows(part: str) -> bool:
    """Whether the page draws `part` (code, files, sidebar)."""
    return part not in exercise().hidden


def unknown_text(exercise: Exercise) -> str:
    """What the link named that means nothing here, quoted as text and bounded: anyone can send a link."""
    parts = []
    if exercise.unknown:
        parts.append(f"{listed(exercise.unknown)} (not a setting)")
    if exercise.unknown_hidden:
        parts.append(f"{listed(exercise.unknown_hidden)} (neither a setting nor one of {', '.join(PARTS)})")
    return "; ".join(parts)


def banner() -> None:
    """The exercise's text, what the link named that is unknown (a typo locks nothing: say so), and CSS
    that hides the fields and parts the link names."""
    current = exercise()
    if current.active:
        st.info(exercise_text(current), icon=":material/school:")
    if unknown := unknown_text(current):
        st.warning(f"The teacher's link named something unknown, ignored: {unknown}.")
    if not current.active:
        return
    selectors = [f".st-key-{name}" for name in sorted(current.hidden & set(LOCKABLE))]
    if "sidebar" in current.hidden:
        selectors += ['[data-testid="stSidebar"]', '[data-testid="stSidebarCollapsedControl"]',
                      '[data-testid="stExpandSidebarButton"]']
    if "hidden_sizes" in current.hidden:
        selectors += [".st-key-add_layer", ".st-key-remove_layer"]
    if selectors:
        st.html(f"<style>{', '.join(selectors)} {{display: none;}}</style>")
