"""Runs in a real browser: two runs on one chart and in the table, and the table's editable columns. The
replay slider (weights and gradients at epoch 0 and at the last) is checked by AppTest:
tests/test_runs_page.py::test_the_replay_slider_moves_the_heatmaps_to_epoch_0_and_back_to_the_last."""

from playwright.sync_api import expect

LINK = "/train?epochs=150&seed=7"


def comparison(app):
    """The comparison chart's element (its title is in the SVG)."""
    return app.page.get_by_test_id("stPlotlyChart").filter(has_text="Runs compared: loss")


def test_two_runs_on_one_chart_and_in_the_table(app, assert_snapshot):
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


def table_grid(app):
    """The runs table's glide-data-grid, whose scroller lies over its canvas; redrawn after each edit."""
    return app.page.locator("[class*='st-key-runs_table_'] .dvn-scroller")


def table_cell(app, row: int, column: int):
    """The cell in glide's accessible copy of the runs table, whose aria-selected says where the selection is."""
    return app.page.locator(f"[class*='st-key-runs_table_'] [id='glide-cell-{column}-{row}']")


def select_cell(app, row: int, column: int) -> None:
    """Click the row's first cell (its 35 px rows under a 35 px header), then arrow to the column.

    Each step waits until the grid has selected the cell: a key pressed before it has taken the click
    (it does so a render later) is lost, and the next key lands one column short, on another cell.
    """
    table_grid(app).click(position={"x": 20, "y": 35 + 35 * row + 17})
    expect(table_cell(app, row, 0)).to_have_attribute("aria-selected", "true")
    for at in range(1, column + 1):
        app.page.keyboard.press("ArrowRight")
        expect(table_cell(app, row, at)).to_have_attribute("aria-selected", "true")


def legend(app):
    return comparison(app).locator(".legendtext")


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
    expect(legend(app)).to_have_text(["run 1"])
    select_cell(app, 0, 1)
    app.act(lambda: app.page.keyboard.press(" "))  # pin run 1
    select_cell(app, 0, 2)
    app.page.keyboard.press("Enter")
    editor = app.page.locator("#portal textarea").first
    expect(editor).to_be_visible()
    app.act(lambda: (editor.fill("lr 1e-4"), editor.press("Enter")))
    expect(legend(app)).to_have_text(["lr 1e-4"])
    rows = app.page.locator("table[role='grid']").filter(has_text="outcome").locator("tbody tr")  # glide's a11y copy
    expect(rows).to_have_count(2)
    first_three = "td:nth-child(-n+3)"  # show, pin, name
    expect(rows.nth(0).locator(first_three)).to_have_text(["true", "true", "lr 1e-4"])
    expect(rows.nth(1).locator(first_three)).to_have_text(["false", "false", "run 2"])
