"""Playground's options in a real browser: a classification set with a test split, mini-batches and L2, its decision
boundary and train and test curves. The other sets (their status line and boundary chart) are checked by
tests/test_moved_from_e2e_playground.py, a bad data set named in the link by tests/test_playground_page.py."""

from playwright.sync_api import expect

# The done-when link, word for word.
XOR = ("/train?dataset=xor&test_fraction=0.3&hidden_sizes=8,8&activation=Tanh&optimizer=adam&learning_rate=0.03"
       "&epochs=300&batch_size=16&l2=0.0001&reduction=mean")


def chart(app, title: str):
    return app.page.get_by_test_id("stPlotlyChart").filter(has=app.page.locator(".gtitle", has_text=title))


def metric(app, label: str) -> str:
    labelled = app.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    found = app.page.get_by_test_id("stMetric").filter(has=labelled)
    return found.get_by_test_id("stMetricValue").inner_text()


def percent(text: str) -> float:
    return float(text.rstrip("%"))


def test_the_xor_link_trains_past_90_percent_with_its_boundary_and_both_curves(app, assert_snapshot):
    app.goto(XOR)
    expect(app.page.locator(".gtitle", has_text="Decision boundary at epoch 0")).to_be_visible()
    app.click("btn_train")
    assert app.counter().startswith("Epoch 300 / 300 · loss ") and app.counter().endswith(" · finished")
    assert percent(metric(app, "accuracy · train")) > 90 and percent(metric(app, "accuracy · test")) >= 85
    boundary = chart(app, "Decision boundary at epoch 300")
    assert boundary.locator(".legendtext").all_text_contents() == [
        "train: class 0", "train: class 1", "test: class 0", "test: class 1"]
    assert boundary.locator(".scatterlayer .point").count() == 100  # 70 training and 30 test points
    assert chart(app, "Loss (epoch 300: train ").locator(".legendtext").all_text_contents() == ["train", "test"]
    expect(chart(app, "Each unit of the first hidden layer")).to_be_visible()
    assert_snapshot(boundary, "train_xor_boundary")
