"""Every use of Streamlit's private API, in one file so that an upgrade is a one-file review
(tests/test_flush.py checks that what it reads is still there).

Leaving the legacy multipage mode: on a server's first run, when a `pages/` folder sits beside
app.py, Streamlit runs the URL's page in its legacy multipage mode (every file of pages/ listed in
the sidebar, the tab titled by the file name), skipping app.py's st.navigation.
`leave_legacy_pages_mode`, called before anything imports torch, sends the real navigation and
page config at once, turns the legacy mode off and reruns through app.py.

Letting a run's last frame reach the browser, and be drawn, before `st.rerun()` starts the next run:

1. A new run clears the old run's messages still queued for the browser (Streamlit 1.67,
   AppSession._clear_queue on SCRIPT_STARTED), so the page first waits until the queue is empty:
   else a run may lose its final frame. Reading the queue needs Streamlit's internals;
   tests/test_flush.py checks they are still there.
2. Sent is not drawn: the browser applies deltas as they come, and the rerun's, close behind, would
   go first. A head start of 0.1 s, which nobody sees, lets it draw the final frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


def leave_legacy_pages_mode(navigation: Callable[[], object]) -> None:
    """If Streamlit ran this page in its legacy multipage mode, send the real `navigation` and rerun."""
    if PagesManager.uses_pages_directory:
        navigation()  # also turns the legacy mode off, as st.navigation does
        st.rerun()


FINAL_FRAME_HEAD_START = 0.1  # seconds the browser gets to draw the final frame before the rerun's messages


def browser_queue() -> ForwardMsgQueue | None:
    """This session's queue of messages not yet sent; None outside a server (AppTest mocks the runtime)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    sessions = getattr(Runtime.instance(), "_session_mgr", None)
    info = sessions.get_active_session_info(ctx.session_id) if sessions is not None else None
    queue = getattr(getattr(info, "session", None), "_browser_queue", None)
    return queue if isinstance(queue, ForwardMsgQueue) else None


def wait_until_sent(queue: ForwardMsgQueue | None = None, timeout: float = 0.25, poll: float = 0.002) -> bool:
    """Block until the queue is empty (the server's event loop took every message), at most `timeout`
    seconds. True if it emptied; a queue that stays full (a closed tab) only costs the timeout."""
    queue = queue if queue is not None else browser_queue()
    if queue is None:
        return True
    deadline = time.monotonic() + timeout
    while not queue.is_empty():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def before_rerun(queue: ForwardMsgQueue | None = None) -> None:
    """Call between a run's final frame and `st.rerun()`: the frame sent, then a head start to draw it."""
    wait_until_sent(queue)
    time.sleep(FINAL_FRAME_HEAD_START)
