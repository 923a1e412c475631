"""Checks of the classification sets moved from the browser tests (tests/e2e/test_e2e_playground.py) to
AppTest: a finished run's status line and the decision boundary's chart at its last epoch are text and a
figure spec. The browser keeps the XOR link's boundary screenshot. An unknown data set in the link is
named by tests/test_playground_page.py::test_an_unknown_dataset_in_the_link_is_named."""

import pytest
from test_moved_from_e2e_train import counter, open_train
from test_train_page import charts


@pytest.mark.parametrize("dataset", ["spiral", "circle", "gauss"])
def test_the_other_sets_train_without_error_and_draw_their_boundary(dataset):
    at = open_train({"dataset": dataset, "epochs": "10", "test_fraction": "0.2", "optimizer": "adam",
                     "learning_rate": "0.01", "reduction": "mean"})
    at.button(key="btn_train").click().run()
    assert not at.exception
    assert counter(at).startswith("Epoch 10 / 10 · ") and counter(at).endswith(" · finished"), counter(at)
    titles = [chart["layout"]["title"]["text"] for chart in charts(at)]
    assert any(title.startswith("Decision boundary at epoch 10") for title in titles), titles
