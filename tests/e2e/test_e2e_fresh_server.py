"""The first visit after a server starts (every wake on Community Cloud) shows the real app at once."""

import json

import pytest

# Every distinct (sidebar listing, tab title, start of the main area) the browser shows, in order.
RECORD_STATES_JS = r"""
window.__states = [];
new MutationObserver(() => {
  const listing = [...document.querySelectorAll("[data-testid='stSidebarNavLink']")]
    .map((link) => link.innerText.trim().split("\n").at(-1)).join("|");  // the label, not the icon's name
  const main = document.querySelector("[data-testid='stMain']")?.innerText.trim().slice(0, 60) ?? "";
  const state = JSON.stringify([listing, document.title, main]);
  if (window.__states.at(-1) !== state) window.__states.push(state);
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""
REAL_LISTING = "Home|Layers|Models|One epoch|Train"


# Streamlit treats a pages/ folder beside app.py as old-style pages: until some session has run app.py,
# a fresh server ran /train from pages/train.py alone (file names in the sidebar, "train" as the tab's
# title, no wide layout), so a shared link opened first after a restart showed another app, and what a
# test saw depended on the tests before it. pages/ui/__init__.py now reruns such a run through app.py.
# The deep link (/train?...) is that first visit.
@pytest.mark.both_servers
@pytest.mark.parametrize("path", ["/", "/train?epochs=20"])
def test_the_real_pages_are_listed_while_torch_loads(fresh_server, new_app, path):
    """Before: the legacy listing of pages/ (app, home, layers, models, train) and the tab title "app" or
    "train" stayed until torch was imported, 2-3 s, with a blank main area."""
    with fresh_server() as server:
        tab = new_app()
        tab.page.context.add_init_script(RECORD_STATES_JS)
        try:
            tab.goto(server.url + path)
            states = [json.loads(state) for state in tab.page.evaluate("window.__states")]
            tab.assert_healthy()
            assert tab.page.title() == "Module Lab"  # app.py's st.set_page_config ran
        finally:
            tab.page.close()  # before the server stops: its tab would log the lost connection
    loading = [state for state in states if "Loading PyTorch" in state[2]]
    assert loading, states  # the main area says what is happening
    assert loading[0][:2] == [REAL_LISTING, "Module Lab"], states
    first_real = next(i for i, state in enumerate(states) if state[0] == REAL_LISTING)
    assert all(state[0] == REAL_LISTING for state in states[first_real:]), states  # never back to the legacy one
