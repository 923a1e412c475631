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


def table_grid(app):
    """The runs table's glide-data-grid, whose scroller lies over its canvas; redrawn after each edit."""
    return app.page.locator("[class*='st-key-runs_table_'] .dvn-scroller")


def select_cell(app, row: int, column: int) -> None:
    """Click the row's first cell (its 35 px rows under a 35 px header), then arrow to the column."""
    table_grid(app).click(position={"x": 20, "y": 35 + 35 * row + 17})
    for _ in range(column):
        app.page.keyboard.press("ArrowRight")


def test_the_table_ticks_pins_and_renames_runs(app):
    """The data editor's editable columns (show, pin, name) reach the runs: an unticked run leaves
    the chart, a pin stays ticked when the table is redrawn, a renamed run's trace takes the name."""
    app.goto("/train?epochs=20&seed=7")
    app.click("btn_train")
    app.click("btn_train")  # run 1 kept, run 2 trains
    assert app.counter().startswith("Epoch 20 / 20")
    expect(table_grid(app)).to_be_visible()
    select_cell(app, 1, 0)
    app.act(lambda: app.page.keyboard.press(" "))  # untick run 2's "show"
    assert comparison(app).locator(".legendtext").all_text_contents() == ["run 1"]
    select_cell(app, 0, 1)
    app.act(lambda: app.page.keyboard.press(" "))  # pin run 1
    select_cell(app, 0, 2)
    app.page.keyboard.press("Enter")
    editor = app.page.locator("#portal textarea").first
    expect(editor).to_be_visible()
    app.act(lambda: (editor.fill("lr 1e-4"), editor.press("Enter")))
    assert comparison(app).locator(".legendtext").all_text_contents() == ["lr 1e-4"]
    rows = app.page.locator("table[role='grid']").filter(has_text="outcome").locator("tbody tr")  # glide's a11y copy
    expect(rows).to_have_count(2)
    assert rows.nth(0).locator("td").all_inner_texts()[:3] == ["true", "true", "lr 1e-4"]  # show, pin, name
    assert rows.nth(1).locator("td").all_inner_texts()[:3] == ["false", "false", "run 2"]
