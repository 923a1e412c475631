"""Let a run's last frame reach the browser, and be drawn, before `st.rerun()` starts the next run.

1. A new run clears the messages of the old one still queued for the browser (Streamlit 1.67,
   AppSession._clear_queue on SCRIPT_STARTED). The final frame, drawn just before `st.rerun()`, was
   dropped in about one run in five on two busy cores, and the browser waited ~0.5 s longer for
   the rerun's charts. Reading the queue needs Streamlit's internals; tests/test_flush.py checks
   they are still there.
2. Sent is not drawn: the browser applies deltas as they come, and the rerun's, close behind, were
   applied first, so the final frame's chart waited for them or was never mounted at all (live
   drawing off, click to last frame: 3 runs in 24 took 0.9-1.3 s instead of 0.3-0.7 s). A head
   start of 0.1 s, which nobody sees, made that 0 in 24; medians 0.53 -> 0.27 s (200 epochs),
   0.69 -> 0.67 s (5,000).
"""

from __future__ import annotations

import time

from streamlit.runtime import Runtime
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

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
