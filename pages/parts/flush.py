"""Let a run's last frame reach the browser before `st.rerun()` starts the next run.

A new run clears the messages of the old one still queued for the browser (Streamlit 1.67,
AppSession._clear_queue on SCRIPT_STARTED). The final frame, drawn just before `st.rerun()`, was
dropped in about one run in five on two busy cores, and the browser waited ~0.5 s longer for the
rerun's charts. Reading the queue needs Streamlit's internals; tests/test_flush.py checks they are
still there.
"""

from __future__ import annotations

import time

from streamlit.runtime import Runtime
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


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
