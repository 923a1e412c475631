"""The One epoch page in a real browser: the six phases with Next and Back, a screenshot each. The graph
phase's node names are checked on the figure's spec by tests/test_moved_from_e2e_epoch.py."""

import re

from playwright.sync_api import expect

PHASES = ("forward", "loss", "graph", "zero_grad", "backward", "update")
HEADINGS = ("1 · forward", "2 · loss", "3 · the autograd graph", "4 · zero_grad", "5 · backward", "6 · update")


def main(app):
    return app.page.get_by_test_id("stMainBlockContainer")


def chart_text(app) -> str:
    """Every word drawn inside the plotly charts' SVG (node labels, titles)."""
    return " ".join(app.page.locator(".js-plotly-plot text").all_text_contents())


def test_next_walks_six_phases_and_back_returns(app, assert_snapshot):
    app.goto("/epoch")
    seen = []
    for phase, heading in zip(PHASES, HEADINGS):
        expect(main(app).get_by_role("heading", name=heading)).to_be_visible()
        assert re.search(rf"phase={phase}(&|$)", app.page.url)
        seen.append(main(app).inner_text() + chart_text(app))
        assert_snapshot(main(app), f"epoch_{phase}_main")
        app.click("epoch_next")
    assert len(set(seen)) == len(PHASES)  # each click changed what is shown
    expect(main(app).get_by_role("heading", name="1 · forward")).to_be_visible()
    assert "epoch=1" in app.page.url and "Epoch 1 → 2 of 200" in main(app).inner_text()
    app.click("epoch_back")
    expect(main(app).get_by_role("heading", name="6 · update")).to_be_visible()
    assert main(app).inner_text() + chart_text(app) == seen[-1]
