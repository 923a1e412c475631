"""Bring your own data: a CSV of numbers turned into a regression dataset.

`read_csv` checks the upload (size, encoding, shape) and returns a DataFrame; `prepare`
takes the target and feature columns, drops or refuses gaps, and standardises the features.
Nothing in a file is evaluated: pandas only turns its text into numbers and strings.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a CSV is read: it adds ~0.3 s to every cold start otherwise
    import pandas as pd

from core.config import LIMITS, Limits

MAX_CSV_BYTES = 5_000_000  # 10,000 rows of 20 numbers fit in well under 5 MB
MAX_NAME_CHARS = 200  # a column name is shown in menus and messages
FLOAT32_MAX = float(np.finfo(np.float32).max)  # larger values would be inf once in a float32 tensor


class DataError(ValueError):
    """The data can't be used as it is; the message names the column or rows and what to change."""


@dataclass(frozen=True, eq=False)
class Dataset:
    x: np.ndarray  # (n, features) float32, each column standardised: (value - means[i]) / stds[i]
    y: np.ndarray  # (n, 1) float32, the target as given, not standardised
    feature_names: tuple[str, ...]
    target_name: str
    dropped_rows: int  # rows left out for a missing value in one of the chosen columns
    means: np.ndarray  # (features,) float64, each raw feature's mean over the kept rows
    stds: np.ndarray  # (features,) float64, each raw feature's standard deviation (ddof=0)
    classes: tuple[float, float] | None = None  # as classification: the target values read as 0 and 1

    @property
    def two_values(self) -> tuple[float, float] | None:
        """The target's two values, smaller first, when it has exactly two: it may be trained as classification."""
        values = np.unique(self.y)
        return (float(values[0]), float(values[1])) if len(values) == 2 else None

    def as_classification(self) -> Dataset:
        """The same rows with the target as labels: its smaller value 0.0, its larger 1.0."""
        low, high = self.two_values or (None, None)
        if high is None:
            raise DataError(f"the target {self.target_name!r} has {len(np.unique(self.y))} values; "
                            "classification needs exactly two")
        return dataclasses.replace(self, y=(self.y == high).astype(np.float32), classes=(low, high))


def read_csv(data: bytes, limits: Limits = LIMITS, max_bytes: int = MAX_CSV_BYTES) -> pd.DataFrame:
    """The uploaded file as a DataFrame with a header row, within the limits; else DataError."""
    if not data.strip():
        raise DataError("the file is empty")
    if len(data) > max_bytes:
        raise DataError(f"the file is {len(data) / 1e6:.1f} MB, over the cap of {max_bytes / 1e6:g} MB")
    text = _decode(data)
    _check_shape(text, limits)
    # One row past the cap is enough to know the file is too long, without parsing the rest.
    frame = _parse(text, max_rows=limits.max_samples + 1)
    if len(frame) > limits.max_samples:
        raise DataError(f"the file has over {limits.max_samples:,} rows; at most {limits.max_samples:,} are allowed")
    if frame.empty:
        raise DataError("the file has column names but no rows of data")
    if not numeric_columns(frame):
        raise DataError("no column holds only numbers; the target and features must be numeric, separated by commas")
    return frame


def _decode(data: bytes) -> str:
    body = data.removeprefix(codecs.BOM_UTF8)  # spreadsheets often start "CSV UTF-8" files with one
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + len(data) - len(body)
        raise DataError(
            f"the file is not UTF-8 text (byte {offset:,} is {data[offset]:#04x}); save it as 'CSV UTF-8'"
        ) from None


# One CSV field as pandas reads it: unquoted text, or text in double quotes where "" is a quote.
_FIELD = re.compile(r'[^,"\r\n]*+(?:"[^"]*+(?:""[^"]*+)*+"[^,"\r\n]*+)*+')  # possessive: an unclosed quote is O(n)
_BLANK_LINES = re.compile(r"(?:[ \t]*+(?:\r\n|\r|\n))*+")


def _record(text: str, position: int, stop: int) -> tuple[list[str], int]:
    """The fields of the record at `position` as written (quotes kept), at most `stop` of them, and
    where the next non-blank line starts (pandas skips blank lines)."""
    fields: list[str] = []
    position = _BLANK_LINES.match(text, position).end()
    while position < len(text) and len(fields) < stop:
        field = _FIELD.match(text, position)
        fields.append(field.group())
        position = field.end()
        if position >= len(text) or text[position] != ",":  # the end of the line, or an unclosed quote
            break
        position += 1
    return fields, _BLANK_LINES.match(text, position).end()


def _check_shape(text: str, limits: Limits) -> None:
    """The header and the first row, counted before pandas parses anything: it renames repeated
    names in quadratic time and turns a first row wider than the header into an index of the extra
    columns, so a hostile header or first row would cost the server minutes."""
    max_columns = limits.max_features + 1
    header, position = _record(text, 0, stop=max_columns + 1)
    if len(header) > max_columns:
        raise DataError(
            f"the header names over {max_columns} columns; at most {max_columns} are allowed "
            f"({limits.max_features} features and a target)"
        )
    long = next((n for n, field in enumerate(header, start=1) if len(field) > MAX_NAME_CHARS), None)
    if long is not None:
        raise DataError(f"column {long}'s name is {len(header[long - 1]):,} characters long; "
                        f"at most {MAX_NAME_CHARS} are allowed")
    first_row, _ = _record(text, position, stop=len(header) + 1)
    if len(first_row) > len(header):
        raise DataError("the rows have more values than there are column names; give every column a name")


def _parse(text: str, max_rows: int) -> pd.DataFrame:
    import pandas as pd

    try:
        # low_memory=False: infer each column's type from all its rows, not chunk by chunk.
        frame = pd.read_csv(io.StringIO(text), nrows=max_rows, low_memory=False)
    except ValueError as error:  # pandas' ParserError and EmptyDataError; their message names the line
        raise DataError(f"the file is not a readable CSV: {str(error).strip()}") from None
    # When rows hold more values than the header names, pandas silently makes the first columns the index.
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        raise DataError("the rows have more values than there are column names; give every column a name")
    return frame


def numeric_columns(df: pd.DataFrame) -> list[str]:
    """Names of the columns pandas read as numbers: the candidates for target and features."""
    import pandas as pd

    return [name for name in df.columns if pd.api.types.is_numeric_dtype(df[name])]


def mostly_numeric_columns(df: pd.DataFrame) -> list[str]:
    """Columns where most filled cells are numbers: numeric ones, and those with a few stray entries."""
    import pandas as pd

    def mostly(column: pd.Series) -> bool:
        filled = column.dropna()
        return len(filled) > 0 and pd.to_numeric(filled, errors="coerce").notna().mean() >= 0.5

    return [name for name in df.columns if mostly(df[name])]


def prepare(df: pd.DataFrame, target: str, features: list[str], drop_incomplete: bool) -> Dataset:
    """Standardised features and the raw target, as float32 arrays ready for training.

    Rows are numbered from 1, the first row under the header, in every message.
    """
    import pandas as pd

    _check_choice(df, target, features)
    chosen = [*features, target]
    values = pd.DataFrame({name: _numbers(df[name]) for name in chosen})
    incomplete = values.isna().any(axis=1)  # a gap or a value that is not a usable number
    if incomplete.any() and not drop_incomplete:
        name = next(name for name in chosen if values[name].isna().any())
        noun, bad, why = _first_problem(df[name])
        raise DataError(
            f"column {name!r} has {_count(bad.sum(), noun)} ({_rows(bad)}){why}; tick 'drop incomplete rows' "
            f"to drop the {_count(incomplete.sum(), 'row')} with a gap or an unusable value"
        )
    kept = values[~incomplete]
    if kept.empty:
        worst = values.isna().sum().idxmax()
        raise DataError(f"every row has a gap or a non-number in the chosen columns (column {worst!r} has "
                        f"{_count(values[worst].isna().sum(), 'such value')}); nothing is left to train on")
    x = kept[features].to_numpy(np.float64)  # (n, features)
    means, stds = x.mean(axis=0), x.std(axis=0)
    for column, name in enumerate(features):
        if stds[column] == 0:
            raise DataError(
                f"feature {name!r} is {x[0, column]:g} in every row; standardising divides by its spread, "
                "which is zero; leave it out"
            )
    return Dataset(
        x=((x - means) / stds).astype(np.float32),
        y=kept[[target]].to_numpy(np.float32),
        feature_names=tuple(features),
        target_name=target,
        dropped_rows=int(incomplete.sum()),
        means=means,
        stds=stds,
    )


def _check_choice(df: pd.DataFrame, target: str, features: list[str]) -> None:
    if target in features:
        raise DataError(f"column {target!r} is the target; it can't also be a feature")
    if not features:
        raise DataError("choose at least one feature column")
    repeated = [name for i, name in enumerate(features) if name in features[:i]]
    if repeated:
        raise DataError(f"feature {repeated[0]!r} is chosen twice")
    unknown = [name for name in [target, *features] if name not in df.columns]
    if unknown:
        raise DataError(f"there is no column {unknown[0]!r}; the file has {', '.join(map(repr, df.columns))}")


def _first_problem(column: pd.Series) -> tuple[str, pd.Series, str]:
    """The first kind of unusable value in the column: (noun, where, why it can't be used)."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce").astype(np.float64)
    problems = [
        ("non-numeric value", column.notna() & numbers.isna(), ""),
        ("infinite value", pd.Series(np.isinf(numbers), index=column.index), "; the loss of an infinite target "
         "or input is infinite or NaN"),
        ("too large value", numbers.abs().gt(FLOAT32_MAX) & np.isfinite(numbers), f"; a float32 tensor holds at "
         f"most ±{FLOAT32_MAX:.2g}"),
        ("missing value", column.isna(), ""),
    ]
    return next(problem for problem in problems if problem[1].any())


def _numbers(column: pd.Series) -> pd.Series:
    """The column as float64, NaN where a value is missing or is not a usable number (text, inf, overflow)."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce").astype(np.float64)
    return numbers.where(numbers.abs() <= FLOAT32_MAX)  # beyond float32 it would be inf in a tensor


def _rows(mask: pd.Series, shown: int = 5) -> str:
    """'rows 4, 9, 12' for the first few True positions, numbered from 1."""
    rows = (np.flatnonzero(mask.to_numpy()) + 1).tolist()
    listed = ", ".join(map(str, rows[:shown])) + (", ..." if len(rows) > shown else "")
    return f"row {listed}" if len(rows) == 1 else f"rows {listed}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
