"""core.tabular: uploads are read or refused with a DataError that says what to fix, and the
prepared arrays equal the same standardisation done directly with pandas and numpy."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import Limits
from core.tabular import DataError, numeric_columns, prepare, read_csv

HOUSES = b"""rooms,area,age,city,price
3,70.5,12,Lyon,210
4,95.0,30,Paris,340
2,48.25,5,Lyon,150
5,120.0,41,Nice,390
3,66.0,18,Paris,260
"""


# ------------------------------------------------------------------ read_csv ---


def test_read_csv_reads_a_header_and_rows_and_lists_numeric_columns():
    frame = read_csv(HOUSES)
    assert list(frame.columns) == ["rooms", "area", "age", "city", "price"] and len(frame) == 5
    assert numeric_columns(frame) == ["rooms", "area", "age", "price"]


def test_read_csv_accepts_the_byte_order_mark_spreadsheets_write():
    assert list(read_csv(b"\xef\xbb\xbf" + HOUSES).columns)[0] == "rooms"


def test_read_csv_keeps_formulas_and_markup_as_plain_text():
    frame = read_csv(b'x,note\n1,"=cmd|\' /C calc\'!A0"\n2,<script>alert(1)</script>\n')
    assert frame["note"].tolist() == ["=cmd|' /C calc'!A0", "<script>alert(1)</script>"]


@pytest.mark.parametrize("data,message", [
    (b"", "the file is empty"),
    (b" \n\n", "the file is empty"),
    (b"a,b\n1,2\n3,\xff\n", r"not UTF-8 text \(byte 10 is 0xff\)"),
    (b"\xef\xbb\xbfa\n\xe9\n", r"not UTF-8 text \(byte 5 is 0xe9\)"),  # offset counts the byte order mark
    (b'a,b\n1,2\n3,4,5\n', "not a readable CSV: .*Expected 2 fields in line 3, saw 3"),
    (b'a,b\n"1,2\n', "not a readable CSV: .*EOF inside string"),
    (b"a,b\n1,2,3\n4,5,6\n", "more values than there are column names"),
    (b"a,b\n\n1,2,3,4\n", "more values than there are column names"),
    (b"a,b\n", "column names but no rows"),
    (b"name,city\nAda,Lyon\n", "no column holds only numbers"),
    (b"a;b\n1;2\n", "no column holds only numbers.*separated by commas"),
])
def test_read_csv_refuses_unusable_files_saying_why(data, message):
    with pytest.raises(DataError, match=message):
        read_csv(data)


def test_read_csv_refuses_more_rows_than_the_cap():
    data = b"x,y\n" + b"1,2\n" * 11
    assert len(read_csv(data, Limits(max_samples=11))) == 11
    with pytest.raises(DataError, match="over 10 rows; at most 10 are allowed"):
        read_csv(data, Limits(max_samples=10))


def test_read_csv_refuses_more_columns_than_features_plus_a_target():
    data = b"a,b,c,y\n1,2,3,4\n"
    assert len(read_csv(data, Limits(max_features=3)).columns) == 4
    with pytest.raises(DataError, match=r"over 3 columns; at most 3 are allowed \(2 features and a target\)"):
        read_csv(data, Limits(max_features=2))


@pytest.fixture
def no_pandas_parsing(monkeypatch):
    """pandas.read_csv fails the test: the file must be refused by the cheap pass before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("pandas parsed a file the cheap pass should have refused")

    monkeypatch.setattr(pd, "read_csv", refuse)


@pytest.mark.parametrize("data,message", [
    # pandas renames repeated names in quadratic time
    (b"abc," * 99_999 + b"abc\n1\n", r"the header names over 21 columns; at most 21 are allowed"),
    (",".join(f"c{i}" for i in range(100_000)).encode() + b"\n1\n", "the header names over 21 columns"),
    # pandas makes a first row wider than the header into an index of the extra values
    (b"a,b\n" + b"1," * 99_999 + b"1\n", "the rows have more values than there are column names"),
    (b'\n\r\n"x,y",b\n\n"1","2",3\n', "the rows have more values than there are column names"),
    (b"x" * 201 + b",y\n1,2\n", r"column 1's name is 201 characters long; at most 200 are allowed"),
    (b'y,"' + b"x" * 199 + b'"""\n1,2\n', r"column 2's name is 203 characters long"),  # quotes count
], ids=["repeated names", "unique names", "wide first row", "wide row after blank lines", "long name",
        "long quoted name"])
def test_read_csv_refuses_a_hostile_shape_before_pandas_parses_it(no_pandas_parsing, data, message):
    with pytest.raises(DataError, match=message):
        read_csv(data)


def test_the_cheap_pass_lets_through_what_pandas_reads_as_within_the_caps():
    data = b'\n"a,""quoted"" name",b\r\n\r\n1,2\n3,4\n'
    frame = read_csv(data, Limits(max_features=1))
    assert list(frame.columns) == ['a,"quoted" name', "b"] and len(frame) == 2


def test_read_csv_refuses_files_over_the_size_cap():
    with pytest.raises(DataError, match="over the cap of 0.0001 MB"):
        read_csv(HOUSES, max_bytes=100)


# ------------------------------------------------------------------- prepare ---


def test_prepare_standardises_features_as_numpy_does_and_keeps_the_target_raw():
    frame = read_csv(HOUSES)
    dataset = prepare(frame, "price", ["rooms", "area"], drop_incomplete=False)
    raw = frame[["rooms", "area"]].to_numpy(np.float64)
    np.testing.assert_allclose(dataset.means, raw.mean(axis=0))
    np.testing.assert_allclose(dataset.stds, raw.std(axis=0))
    np.testing.assert_allclose(dataset.x, (raw - raw.mean(axis=0)) / raw.std(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(dataset.y, frame[["price"]].to_numpy(np.float32))
    assert dataset.x.dtype == dataset.y.dtype == np.float32
    assert dataset.x.shape == (5, 2) and dataset.y.shape == (5, 1)
    np.testing.assert_allclose(dataset.x.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(dataset.x.std(axis=0), 1, rtol=1e-6)
    assert dataset.feature_names == ("rooms", "area") and dataset.target_name == "price"
    assert dataset.dropped_rows == 0


def test_prepare_drops_incomplete_rows_when_asked_and_counts_them():
    frame = read_csv(b"a,b,y\n1,10,5\n2,,6\n3,30,\n4,40,8\n6,20,1\n")
    dataset = prepare(frame, "y", ["a", "b"], drop_incomplete=True)
    kept = frame.dropna()
    assert dataset.dropped_rows == 2 and len(kept) == 3
    raw = kept[["a", "b"]].to_numpy(np.float64)
    np.testing.assert_allclose(dataset.x, (raw - raw.mean(axis=0)) / raw.std(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(dataset.y.ravel(), [5, 8, 1])


def test_prepare_ignores_gaps_in_columns_it_does_not_use():
    frame = read_csv(b"a,b,y\n1,,5\n2,,6\n3,1,7\n")
    assert prepare(frame, "y", ["a"], drop_incomplete=False).dropped_rows == 0


@pytest.mark.parametrize("target,features,message", [
    ("price", ["rooms", "price"], "column 'price' is the target; it can't also be a feature"),
    ("price", [], "choose at least one feature column"),
    ("price", ["rooms", "rooms"], "feature 'rooms' is chosen twice"),
    ("price", ["rooms", "floors"], "there is no column 'floors'; the file has 'rooms', 'area', 'age', 'city', 'price'"),
    ("cost", ["rooms"], "there is no column 'cost'"),
    ("price", ["city"], r"column 'city' has 5 such values\); nothing is left to train on"),
])
def test_prepare_refuses_a_bad_choice_of_columns(target, features, message):
    with pytest.raises(DataError, match=message):
        prepare(read_csv(HOUSES), target, features, drop_incomplete=True)


def test_prepare_names_the_column_and_rows_of_non_numeric_values():
    frame = read_csv(b"age,y\n1,1\n2,2\n3,3\nold,4\n5,5\n6,6\n7,7\n8,8\n?,9\n10,10\n11,11\ntwelve,12\n")
    with pytest.raises(DataError, match=r"column 'age' has 3 non-numeric values \(rows 4, 9, 12\); "
                                         r"tick 'drop incomplete rows' to drop the 3 rows"):
        prepare(frame, "y", ["age"], drop_incomplete=False)
    dataset = prepare(frame, "y", ["age"], drop_incomplete=True)
    assert dataset.dropped_rows == 3 and dataset.y.ravel().tolist() == [1, 2, 3, 5, 6, 7, 8, 10, 11]


def test_prepare_lists_only_the_first_five_bad_rows():
    frame = read_csv(b"x,y\n" + b"a,1\n" * 7 + b"1,2\n")
    with pytest.raises(DataError, match=r"7 non-numeric values \(rows 1, 2, 3, 4, 5, \.\.\.\)"):
        prepare(frame, "y", ["x"], drop_incomplete=False)


@pytest.mark.parametrize("value,message", [
    (b"inf", r"1 infinite value \(row 2\); the loss of an infinite target or input is infinite or NaN"),
    (b"-Infinity", r"1 infinite value \(row 2\)"),
    (b"1e39", r"1 too large value \(row 2\); a float32 tensor holds at most ±3.4e\+38"),
])
def test_prepare_refuses_values_a_float32_tensor_cannot_hold_saying_what_they_are(value, message):
    """Not "non-numeric": inf is a number, only not one a network can learn from."""
    frame = read_csv(b"x,y\n1,1\n2," + value + b"\n3,3\n")
    with pytest.raises(DataError, match=r"column 'y' has " + message):
        prepare(frame, "y", ["x"], drop_incomplete=False)
    assert prepare(frame, "y", ["x"], drop_incomplete=True).y.ravel().tolist() == [1, 3]


def test_prepare_refuses_missing_values_unless_told_to_drop_them():
    frame = read_csv(b"x,z,y\n1,1,1\n,2,2\n3,,3\n,4,4\n5,5,5\n")
    with pytest.raises(DataError, match=r"column 'x' has 2 missing values \(rows 2, 4\); "
                                        r"tick 'drop incomplete rows' to drop the 3 rows with a gap"):
        prepare(frame, "y", ["x", "z"], drop_incomplete=False)


def test_prepare_refuses_when_dropping_leaves_nothing():
    frame = read_csv(b"x,z,y\n1,,1\n,2,2\n")
    with pytest.raises(DataError, match="every row has a gap or a non-number in the chosen columns .*nothing is left"):
        prepare(frame, "y", ["x", "z"], drop_incomplete=True)


def test_prepare_refuses_a_constant_feature_naming_it():
    frame = read_csv(b"x,same,y\n1,4,1\n2,4,2\n3,4,3\n")
    with pytest.raises(DataError, match="feature 'same' is 4 in every row; standardising divides by its spread"):
        prepare(frame, "y", ["x", "same"], drop_incomplete=False)


def test_prepare_takes_a_dataframe_built_in_code_too():
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0], "y": [0, 1, 0]})
    dataset = prepare(frame, "y", ["x"], drop_incomplete=False)
    np.testing.assert_allclose(dataset.x.ravel(), (frame["x"] - frame["x"].mean()) / frame["x"].std(ddof=0), rtol=1e-6)


def test_mostly_numeric_columns_keep_columns_with_a_few_stray_entries():
    from core.tabular import mostly_numeric_columns

    frame = read_csv(b"name,x,y,empty\nann,1,2,\nbob,abc,3,\ncid,4,5,\n")
    assert mostly_numeric_columns(frame) == ["x", "y"]


def test_pandas_is_imported_on_the_first_csv_not_with_the_app():
    """pandas costs ~0.3 s of every cold start; the Train page's modules leave it to the first upload."""
    script = ("import sys, core.checkpoint, core.tabular, core.trainer, viz.training; "
              "print('pandas' in sys.modules); core.tabular.read_csv(b'a,b\\n1,2\\n'); print('pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.split() == ["False", "True"]
