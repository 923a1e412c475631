"""The Train page's screenshots: before and after a short seeded run, and with bad input."""

from playwright.sync_api import expect

SEEDED = "/train?epochs=20&seed=7"  # the URL carries the config, so equal runs give equal pixels


def main(app):
    return app.page.get_by_test_id("stMainBlockContainer")


def sidebar(app):
    # The widgets' own block: the page navigation above them changes whenever app.py gains a page,
    # and the user-content box around them stretches to the window's height.
    return app.page.get_by_test_id("stSidebarUserContent").get_by_test_id("stVerticalBlock").first


def cuda_note(app):
    # The Device radio and its caption say why CUDA is off, which depends on the machine's torch.
    return [app.page.locator(".st-key-device"), sidebar(app).get_by_test_id("stCaptionContainer")]


def chart_titles(app) -> list[str]:
    return app.page.locator(".js-plotly-plot .gtitle").all_text_contents()


def test_before_training(app, assert_snapshot):
    app.goto(SEEDED)
    expect(app.page.get_by_test_id("stAlertContentInfo")).to_contain_text("Press Train")
    assert app.counter() == "" and chart_titles(app) == ["Loss", "Weights at epoch 0"]  # the weights Train starts from
    assert_snapshot(main(app), "train_before_main")
    assert_snapshot(sidebar(app), "train_before_sidebar", mask=cuda_note(app))


def test_after_a_seeded_20_epoch_run(app, assert_snapshot):
    app.goto(SEEDED)
    app.click("btn_train")
    assert app.counter().startswith("Epoch 20 / 20 · loss ") and app.counter().endswith(" · finished")
    titles = chart_titles(app)
    for start in ("Loss (epoch 20: ", "Gradient norm per parameter (epoch 20)", "Weights at epoch 20",
                  "Gradients at epoch 20", "Predicted vs true", "Input sensitivities"):
        assert any(title.startswith(start) for title in titles), (start, titles)
    # The kept run's row in the runs table holds its training time, which varies: masked.
    assert_snapshot(main(app), "train_after_20_epochs_main", mask=[app.page.locator("[class*='st-key-runs_table_']")])


def test_typed_bad_layer_size_shows_an_error(app, assert_snapshot):
    app.goto(SEEDED)
    app.type_into("hidden_sizes", "0")
    expect(app.page.get_by_test_id("stAlertContentError")).to_contain_text("hidden_sizes")
    expect(app.button("btn_train")).to_be_disabled()
    assert_snapshot(main(app), "train_bad_hidden_sizes_main")


def test_bad_value_in_the_link_falls_back_with_a_warning(app, assert_snapshot):
    app.goto(SEEDED + "&hidden_sizes=0")
    expect(sidebar(app).get_by_test_id("stAlertContentWarning")).to_contain_text("hidden_sizes")
    expect(app.page.locator(".st-key-hidden_sizes input")).to_have_value("32")
    assert_snapshot(sidebar(app), "train_bad_link_sidebar", mask=cuda_note(app))
