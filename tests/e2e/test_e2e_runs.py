"""Runs in a real browser: two runs on one chart and in the table, and the replay slider."""

from playwright.sync_api import expect

LINK = "/train?epochs=150&seed=7"


def chart_titles(app) -> list[str]:
    return app.page.locator(".js-plotly-plot .gtitle").all_text_contents()


def comparison(app):
    """The comparison chart's element (its title is in the SVG)."""
    return app.page.get_by_test_id("stPlotlyChart").filter(has_text="Runs compared: loss")


def replay_thumb(app):
    return app.page.get_by_test_id("stSlider").filter(has_text="Replay: epoch").get_by_role("slider")


def test_two_runs_on_one_chart_in_the_table_and_replayed_from_epoch_0(app, assert_snapshot):
    app.goto(LINK)
    app.click("btn_train")
    assert app.counter().startswith("Epoch 150 / 150") and app.counter().endswith(" · finished")
    app.click("btn_train")  # Train again: run 1 is kept, run 2 trains
    assert app.counter().startswith("Epoch 150 / 150") and app.counter().endswith(" · finished")
    chart = comparison(app)
    expect(chart).to_have_count(1)
    assert chart.locator(".legendtext").all_text_contents() == ["run 1", "run 2"]
    table = app.page.get_by_test_id("stDataFrame")
    expect(table.filter(has_text="run 1").filter(has_text="run 2")).to_have_count(1)  # glide's accessible cells
    assert_snapshot(chart, "runs_comparison")

    thumb = replay_thumb(app)
    app.act(lambda: (thumb.focus(), thumb.press("Home")))
    titles = chart_titles(app)
    assert "Weights at epoch 0" in titles and "Gradient norm per parameter (epoch 0)" in titles, titles
    expect(app.page.get_by_text("Gradients at epoch 0: every")).to_be_visible()
    app.act(lambda: (replay_thumb(app).focus(), replay_thumb(app).press("End")))
    titles = chart_titles(app)
    assert "Weights at epoch 150" in titles and any(t.startswith("Gradients at epoch 150") for t in titles), titles
