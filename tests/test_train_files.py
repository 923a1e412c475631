"""The Train page's own data (CSV upload) and files (checkpoint download and safe import), via AppTest."""

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.checkpoint import save_checkpoint
from core.config import Config
from core.trainer import Trainer
from tests.displayed import displayed

PAGE = str(Path(__file__).parent.parent / "pages" / "train.py")
HOUSES = b"rooms,area,age,price\n3,70,10,200\n4,95,5,290\n2,50,30,120\n5,120,2,380\n3,80,12,230\n4,100,8,300\n"


@pytest.fixture
def train() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    return at


def use_csv(at: AppTest, data: bytes, name: str = "houses.csv") -> AppTest:
    at.radio(key="data_source").set_value("csv").run()
    at.file_uploader(key="csv_file").set_value((name, data, "text/csv")).run()
    assert not at.exception
    return at


def errors(at: AppTest) -> str:
    return displayed(" ".join(e.value for e in at.error))


def test_a_csv_trains_on_its_columns_with_standardised_features(train):
    use_csv(train, HOUSES)
    assert train.selectbox(key="csv_target").value == "price"
    assert train.multiselect(key="csv_features").value == ["rooms", "area", "age"]
    assert any("6 rows × 3 features, each standardised" in c.value for c in train.sidebar.caption)
    train.number_input(key="epochs").set_value(5).run()
    train.button(key="btn_train").click().run()
    trainer = train.session_state.trainer
    assert trainer.uploaded and trainer.model[0].in_features == 3 and trainer.epoch == 5
    np.testing.assert_allclose(trainer.y.numpy().ravel(), [200, 290, 120, 380, 230, 300])
    np.testing.assert_allclose(trainer.x.numpy().mean(axis=0), 0, atol=1e-6)
    assert train.session_state.status == "finished"
    assert sensitivity_names(train) == ["rooms", "area", "age"]


def sensitivity_names(at: AppTest) -> list[str]:
    """The bars of the finished run's input sensitivities: one per input, named."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return next(spec for spec in specs if spec["layout"]["title"]["text"] == "Input sensitivities")["data"][0]["x"]


def test_choosing_fewer_features_changes_the_inputs_and_asks_for_reset(train):
    use_csv(train, HOUSES)
    train.button(key="btn_step").click().run()
    train.multiselect(key="csv_features").set_value(["rooms"]).run()
    assert any("the data" in w.value and "Reset" in w.value for w in train.warning)
    train.button(key="btn_reset").click().run()
    train.button(key="btn_step").click().run()
    assert train.session_state.trainer.model[0].in_features == 1


@pytest.mark.parametrize("data,message", [
    (b"", "the file is empty"),
    (b"name,city\nann,paris\nbob,rome\n", "no column holds only numbers"),
    (b"x,y\n1,2\n\xff\xfe,3\n", "not UTF-8"),
])
def test_bad_files_get_a_clear_message(train, data, message):
    use_csv(train, data)
    assert message in errors(train) and "data" in errors(train)
    assert train.button(key="btn_train").disabled


def test_non_numeric_values_are_counted_and_their_rows_can_be_dropped(train):
    use_csv(train, b"x,y\n1,2\n2,4\nabc,6\n4,8\n5,\n6,12\n")
    message = errors(train)
    assert "column 'x' has 1 non-numeric value (row 3)" in message and "drop the 2 rows" in message
    train.checkbox(key="csv_drop").check().run()
    assert not errors(train)
    assert any("4 rows × 1 features" in c.value and "2 incomplete rows dropped" in c.value
               for c in train.sidebar.caption)


def test_rows_over_the_cap_are_refused():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.secrets["MODULE_LAB_MAX_SAMPLES"] = "4"
    at.run()
    use_csv(at, HOUSES)
    assert "over the cap of 4" in errors(at) or "at most 4" in errors(at)


def test_column_names_are_shown_as_text_never_markup(train):
    use_csv(train, b"x,y,<img src=x onerror=alert(1)> **bold**\n1,2,a\n2,3,b\n3,4,5\n")
    train.multiselect(key="csv_features").set_value(["x", "<img src=x onerror=alert(1)> **bold**"]).run()
    message = " ".join(e.value for e in train.error)
    assert r"\<img src\=x onerror\=alert\(1\)\> \*\*bold\*\*" in message
    assert "<img" not in message.replace(r"\<img", "")


def test_downloads_are_offered_once_a_run_exists(train):
    buttons = {b.proto.id.rsplit("-", 1)[-1]: b for b in train.get("download_button")}
    assert buttons["dl_checkpoint"].proto.disabled and not buttons["dl_config"].proto.disabled
    train.button(key="btn_step").click().run()
    buttons = {b.proto.id.rsplit("-", 1)[-1]: b for b in train.get("download_button")}
    assert not buttons["dl_checkpoint"].proto.disabled and not buttons["dl_metrics"].proto.disabled


def test_a_checkpoint_reloads_the_run_and_training_continues_identically(train):
    config = Config().replace(epochs=30, optimizer="adam", learning_rate=1e-3, hidden_sizes="16, 8", seed=3)
    first = Trainer(config)
    for _ in range(12):
        first.step()
    train.file_uploader(key="checkpoint_file").set_value(("run.pt", save_checkpoint(first), "application/x")).run()
    assert not train.exception
    assert any("Loaded run.pt: epoch 12 of 30" in displayed(s.value) for s in train.success)
    assert train.text_input(key="hidden_sizes").value == "16, 8" and train.selectbox(key="optimizer").value == "adam"
    assert train.button(key="btn_train").label == "Resume"
    train.button(key="btn_train").click().run()
    straight = Trainer(config)
    while not straight.done:
        straight.step()
    np.testing.assert_array_equal(train.session_state.trainer.history.losses, straight.history.losses)


def test_a_checkpoint_of_a_csv_run_carries_on_with_the_csvs_rows_in_a_new_session(train):
    use_csv(train, HOUSES)  # 3 features, as many as the lesson's generated data: it would fit silently
    train.number_input(key="epochs").set_value(8).run()
    for _ in range(3):
        train.button(key="btn_step").click().run()
    first = train.session_state.trainer
    assert first.uploaded and first.epoch == 3
    elsewhere = AppTest.from_file(PAGE, default_timeout=60).run()
    elsewhere.file_uploader(key="checkpoint_file").set_value(("houses.pt", save_checkpoint(first), "x")).run()
    assert not elsewhere.exception
    assert any("epoch 3 of 8. It carries on with the 6 rows of the uploaded CSV saved with it" in displayed(s.value)
               for s in elsewhere.success)
    assert elsewhere.button(key="btn_train").label == "Resume"
    elsewhere.button(key="btn_train").click().run()
    straight = Trainer(first.config, data=first.uploaded_rows, classification=False)
    while not straight.done:
        straight.step()
    resumed = elsewhere.session_state.trainer
    assert resumed.epoch == 8 and resumed.uploaded
    np.testing.assert_array_equal(resumed.history.losses, straight.history.losses)
    assert sensitivity_names(elsewhere) == ["rooms", "area", "age"]  # the CSV's columns, not x1, x2, x3


class WritesMarker:
    """Unpickling this calls Path.touch: code that runs on a plain pickle.load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_checkpoint_is_refused_and_its_code_never_runs(train, tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"format": "module-lab-checkpoint", "payload": WritesMarker(marker)}, buffer)
    pickle.loads(pickle.dumps(WritesMarker(tmp_path / "control")))  # the same trick does run on plain pickle
    assert (tmp_path / "control").exists()
    train.file_uploader(key="checkpoint_file").set_value(("evil.pt", buffer.getvalue(), "application/x")).run()
    assert not train.exception
    assert "evil.pt was refused" in errors(train) and "not plain tensors" in errors(train)
    assert not marker.exists() and train.session_state.trainer is None


def test_text_from_a_refused_checkpoint_is_never_rendered_as_markup(train):
    """A weight named like an image would make the browser fetch its address, a config value like a link
    would show one: both are escaped."""
    run = Trainer(Config().replace(epochs=5))
    buffer = io.BytesIO()
    payload = torch.load(io.BytesIO(save_checkpoint(run)), weights_only=True)
    payload["state_dict"]["![i](http://evil.example/t.png)"] = torch.zeros(1)
    torch.save(payload, buffer)
    train.file_uploader(key="checkpoint_file").set_value(("[x](http://evil.example).pt", buffer.getvalue(), "x")).run()
    message = " ".join(e.value for e in train.error)
    assert "weight '![i](http://evil.example/t.png)' is not part" in displayed(message)
    assert "](" not in message and "![" not in message and "http:/" not in message  # all escaped, the URL broken


PASSED = b"hours,sleep,passed\n1,8,0\n2,4,0\n5,7,1\n7,6,1\n3,5,0\n6,9,1\n8,3,1\n2,7,0\n4,6,1\n1,5,0\n"


def test_a_csv_with_a_two_valued_target_trains_as_classification_with_its_boundary(train):
    use_csv(train, PASSED)
    assert train.checkbox(key="csv_classify").value is True
    assert any("0 is class 0, 1 is class 1" in c.value for c in train.sidebar.caption)
    train.number_input(key="epochs").set_value(5).run()
    train.button(key="btn_train").click().run()
    trainer = train.session_state.trainer
    assert trainer.classification and trainer.uploaded and train.session_state.status == "finished"
    assert [m.label for m in train.metric][:2] == ["loss · train", "accuracy · train"]
    assert any("BCEWithLogitsLoss" in info.value for info in train.info)
    train.checkbox(key="csv_classify").uncheck().run()
    assert any("You changed the data" in w.value for w in train.warning)  # a regression of the same file needs Reset


def test_a_csv_target_of_more_values_offers_no_classification(train):
    use_csv(train, HOUSES)
    assert not [box for box in train.checkbox if box.key == "csv_classify"]
