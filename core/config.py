"""Run configuration: one dataclass per concern, one validation for every source.

Widgets, URL query parameters and imported configs all pass through `parse_config`,
so a field has one name everywhere (widget key == dataclass field == query parameter)
and one error message, naming the field, the bad value and the allowed range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

ACTIVATIONS = ("ReLU", "Tanh", "Sigmoid", "LeakyReLU", "GELU", "Identity")
REDUCTIONS = ("sum", "mean")
OPTIMIZERS = ("manual_sgd", "sgd", "adam")
DEVICES = ("cpu", "cuda")
# "lesson": the lesson's regression; the others are TensorFlow Playground's two-input classification sets.
DATASETS = ("lesson", "circle", "xor", "gauss", "spiral")
CLASSIFICATION_INPUTS = 2  # every classification set has two inputs, (x1, x2) on the plane
MAX_TEST_FRACTION = 0.9
MAX_PENALTY = 1.0  # of l1 and l2: larger ones only drive every weight to zero
LEARNING_RATE_RANGE = (1e-6, 1.0)
MAX_SEED = 2**31 - 1
SHOWN_CHARS = 40  # of a bad value echoed in a message: a URL or a file can carry 100,000


def shown(value: object) -> str:
    """repr(value) for a message, cut to its first SHOWN_CHARS characters and '…'."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


class ConfigError(ValueError):
    """One or more config fields are invalid; `errors` maps each field to its message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.errors.items()))


@dataclass(frozen=True)
class Limits:
    """Limits on what one config may ask for; override with MODULE_LAB_<NAME> (server/limits.py adds the
    server's own: time per run, runs at once, turns)."""

    max_samples: int = 10_000  # rows of generated or uploaded data
    max_features: int = 20  # input columns (3 for the lesson's target)
    max_hidden_layers: int = 4
    max_units: int = 512  # per hidden layer
    max_parameters: int = 1_000_000
    max_epochs: int = 100_000
    max_memory_mb: int = 200  # estimated peak of one training step, see estimated_memory_mb
    max_runs: int = 20  # ended runs kept per session for comparison (core/runs.py)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Limits:
        """Read overrides such as MODULE_LAB_MAX_UNITS=2048 (env vars or Streamlit secrets)."""
        overrides = {}
        for f in dataclasses.fields(cls):
            raw = values.get(f"MODULE_LAB_{f.name.upper()}")
            if raw is not None:
                value = _parse_int(str(raw))
                if value is None or value < 1:
                    raise ConfigError({f"MODULE_LAB_{f.name.upper()}": f"{shown(raw)} is not a positive integer"})
                overrides[f.name] = value
        return cls(**overrides)


@dataclass(frozen=True)
class DataConfig:
    n_samples: int = 100  # rows of x ~ N(0, 1), as in the lesson
    noise_std: float = 1.0  # y gets + N(0, noise_std^2) noise; a classification set scales it (core/data.py)
    coefficients: tuple[float, ...] = (0.2, -1.3, -0.5)  # y = sum_i c_i * x_i + noise
    dataset: str = "lesson"  # one of DATASETS; all but "lesson" are 0/1 classification on the plane

    @property
    def classification(self) -> bool:
        return self.dataset != "lesson"

    @property
    def n_features(self) -> int:
        return CLASSIFICATION_INPUTS if self.classification else len(self.coefficients)


@dataclass(frozen=True)
class ModelConfig:
    hidden_sizes: tuple[int, ...] = (32,)  # units per hidden nn.Linear (none: one nn.Linear to the output)
    activation: str = "ReLU"  # name of the torch.nn module placed after each hidden Linear


@dataclass(frozen=True)
class TrainingConfig:
    learning_rate: float = 1e-4  # the lesson's lr
    epochs: int = 200  # full-batch passes over the data
    reduction: str = "sum"  # (y_pred - y).pow(2).sum() as in the lesson, or .mean()
    optimizer: str = "manual_sgd"  # the lesson's p.sub_(lr * p.grad), or torch.optim.SGD / Adam
    device: str = "cpu"  # where the model and data live during training
    seed: int = 7  # seeds data, noise and weight init, so equal configs give equal runs
    test_fraction: float = 0.0  # of the rows held out as test data, split once with the seed; 0: train on all
    batch_size: int = 0  # rows per mini-batch from a shuffling DataLoader; 0: the lesson's full batch
    l1: float = 0.0  # loss + l1 * sum of |p| over every parameter
    l2: float = 0.0  # loss + l2 * sum of p^2 over every parameter (weight decay, written out)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def values(self) -> dict[str, object]:
        """Flat {field name: value}, the names used by widgets and the URL."""
        return {name: getattr(getattr(self, spec.section), name) for name, spec in FIELDS.items()}

    def to_query_params(self) -> dict[str, str]:
        return {name: FIELDS[name].format(value) for name, value in self.values().items()}

    def replace(self, **changes: object) -> Config:
        """A copy with some flat fields changed (validated)."""
        return parse_config({**self.values(), **changes})

    def layer_sizes(self, n_features: int | None = None) -> list[int]:
        """Feature sizes through the network: [inputs, *hidden, 1]; inputs from the data's columns."""
        return [n_features or self.data.n_features, *self.model.hidden_sizes, 1]


# ---------------------------------------------------------------- parsing ---


@dataclass(frozen=True)
class FieldSpec:
    section: str  # which dataclass of Config holds it
    parse: Callable[[object], object]  # raw (str or typed) -> value, raises ValueError(message)
    format: Callable[[object], str]  # value -> query parameter text


def _parse_int(raw: str) -> int | None:
    try:
        number = float(raw.strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def whole_number(low: int, high: int) -> Callable[[object], int]:
    """A parser of whole numbers in [low, high] (an int, or text such as "3" or "3.0"); raises ValueError(message)."""

    def parse(raw: object) -> int:
        value = raw if isinstance(raw, int) and not isinstance(raw, bool) else _parse_int(str(raw))
        if value is None:
            raise ValueError(f"{shown(raw)} is not a whole number; allowed {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range; allowed {low} to {high}")
        return value

    return parse


def _number(low: float, high: float) -> Callable[[object], float]:
    def parse(raw: object) -> float:
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range, 10**400
            raise ValueError(f"{shown(raw)} is not a number; allowed {low:g} to {high:g}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"{value:g} is out of range; allowed {low:g} to {high:g}")
        return value

    return parse


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        if raw not in options:
            raise ValueError(f"{shown(raw)} is not one of {', '.join(options)}")
        return str(raw)

    return parse


def _sequence(item: Callable[[object], object], min_len: int, max_len: int, what: str):
    """A list given as a sequence or as comma-separated text ("64, 32")."""

    def parse(raw: object) -> tuple:
        # Anything but a list is read as text, so a lone number (5) or None gets a message, not a TypeError.
        parts = list(raw) if isinstance(raw, (list, tuple)) else str(raw).replace(";", ",").split(",")
        parts = [p.strip() if isinstance(p, str) else p for p in parts]
        parts = [p for p in parts if p != ""]
        if not min_len <= len(parts) <= max_len:
            raise ValueError(f"give {min_len} to {max_len} {what}, comma-separated; got {len(parts)}")
        values, problems = [], []
        for position, part in enumerate(parts, start=1):
            try:
                values.append(item(part))
            except ValueError as error:  # keep going: the message names every bad entry, not only the first
                problems.append(f"entry {position}: {error}")
        if problems:
            raise ValueError("; ".join(problems))
        return tuple(values)

    return parse


def _format_number(value: float) -> str:
    """Short text ("0.0001") when it reads back as the same float, else every digit: a link must reproduce the run."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _join(values: object) -> str:
    return ",".join(_format_number(v) if isinstance(v, float) else str(v) for v in values)  # type: ignore[union-attr]


def field_specs(limits: Limits) -> dict[str, FieldSpec]:
    return {
        "n_samples": FieldSpec("data", whole_number(1, limits.max_samples), str),
        "noise_std": FieldSpec("data", _number(0.0, 10.0), _format_number),
        "coefficients": FieldSpec(
            "data", _sequence(_number(-100.0, 100.0), 1, limits.max_features, "coefficients"), _join
        ),
        "hidden_sizes": FieldSpec(
            "model",
            _sequence(whole_number(1, limits.max_units), 0, limits.max_hidden_layers, "hidden layer sizes"),
            _join,
        ),
        "activation": FieldSpec("model", _choice(ACTIVATIONS), str),
        "learning_rate": FieldSpec("training", _number(*LEARNING_RATE_RANGE), _format_number),
        "epochs": FieldSpec("training", whole_number(1, limits.max_epochs), str),
        "reduction": FieldSpec("training", _choice(REDUCTIONS), str),
        "optimizer": FieldSpec("training", _choice(OPTIMIZERS), str),
        "device": FieldSpec("training", _choice(DEVICES), str),
        "seed": FieldSpec("training", whole_number(0, MAX_SEED), str),
        # After the lesson's fields, so a default link and script start as they always have.
        "dataset": FieldSpec("data", _choice(DATASETS), str),
        "test_fraction": FieldSpec("training", _number(0.0, MAX_TEST_FRACTION), _format_number),
        "batch_size": FieldSpec("training", whole_number(0, limits.max_samples), str),
        "l1": FieldSpec("training", _number(0.0, MAX_PENALTY), _format_number),
        "l2": FieldSpec("training", _number(0.0, MAX_PENALTY), _format_number),
    }


LIMITS = Limits()
FIELDS = field_specs(LIMITS)


def parse_fields(
    raw: Mapping[str, object], limits: Limits = LIMITS, base: Config | None = None
) -> tuple[dict[str, object], dict[str, str]]:
    """Each field on its own: (values, with `base`'s where raw is missing or bad; {field: error}).

    Lets a shared link keep its good values when some are bad; the limits on the whole
    network are checked by parse_config. Values taken from `base` are checked too, since
    lowered limits (MODULE_LAB_MAX_EPOCHS=100) can rule out a default.
    """
    specs = FIELDS if limits == LIMITS else field_specs(limits)
    values = (base or Config()).values()
    errors: dict[str, str] = {}
    for name, spec in specs.items():
        try:
            values[name] = spec.parse(raw.get(name, values[name]))
        except ValueError as error:
            errors[name] = str(error)
    return values, errors


def parse_config(raw: Mapping[str, object], limits: Limits = LIMITS, base: Config | None = None) -> Config:
    """Validate flat values (text from a URL, or typed widget values) into a Config.

    Missing fields keep `base`'s value (the defaults); unknown keys are ignored, as a
    shared URL may carry other parameters. Raises ConfigError naming every bad field.
    """
    specs = FIELDS if limits == LIMITS else field_specs(limits)
    values, errors = parse_fields(raw, limits, base)
    if errors:
        raise ConfigError(errors)
    sections: dict[str, dict[str, object]] = {"data": {}, "model": {}, "training": {}}
    for name, spec in specs.items():
        sections[spec.section][name] = values[name]
    config = Config(
        DataConfig(**sections["data"]),  # type: ignore[arg-type]
        ModelConfig(**sections["model"]),  # type: ignore[arg-type]
        TrainingConfig(**sections["training"]),  # type: ignore[arg-type]
    )
    check_size(config, limits)
    return config


def test_rows(n_samples: int, test_fraction: float) -> int:
    """Rows held out: test_fraction of n_samples rounded half up (0.3 of 100 is 30, not 29 from 29.999...)."""
    return int(n_samples * test_fraction + 0.5)


def check_split(config: Config, n_samples: int | None = None) -> None:
    """A test split leaves at least one row on each side; n_samples is an upload's rows."""
    n = config.data.n_samples if n_samples is None else n_samples
    fraction = config.training.test_fraction
    held_out = test_rows(n, fraction)
    if fraction > 0 and not 1 <= held_out < n:
        side = "no rows for testing" if held_out < 1 else "no rows for training"
        raise ConfigError({"test_fraction": f"{fraction:g} of {n:,} samples leaves {side}; "
                                            "use more samples or another fraction"})


def parameter_count(layer_sizes: list[int]) -> int:
    """Weights plus biases of the Linear layers between consecutive sizes."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes, layer_sizes[1:]))


def estimated_memory_mb(config: Config, data_shape: tuple[int, int] | None = None) -> float:
    """Upper bound of one full-batch step's memory, in MB of float32.

    Parameters count four times (value, grad and Adam's two moments); each hidden layer
    keeps about two (n_samples, units) activations alive between forward and backward.
    data_shape is (rows, features) of uploaded data, else the config's synthetic data.
    It stays above the measured peak with app.py's allocator setting
    (server.process.return_freed_tensors_to_the_system); `python -m bench.hostile session` measures it.
    """
    n_samples, n_features = data_shape or (config.data.n_samples, config.data.n_features)
    sizes = config.layer_sizes(n_features)
    floats = 4 * parameter_count(sizes) + n_samples * (sizes[0] + 1 + 2 * sum(sizes[1:-1]))
    return floats * 4 / 1e6


def check_size(config: Config, limits: Limits, data_shape: tuple[int, int] | None = None) -> None:
    """Refuse a config over the limits, or whose test split leaves a side empty, before anything is allocated."""
    check_split(config, data_shape[0] if data_shape else None)
    count = parameter_count(config.layer_sizes(data_shape[1] if data_shape else None))
    if count > limits.max_parameters:
        raise ConfigError(
            {"hidden_sizes": f"{count:,} parameters is over the cap of {limits.max_parameters:,}; "
                             "use fewer or smaller layers"}
        )
    memory = estimated_memory_mb(config, data_shape)
    if memory > limits.max_memory_mb:
        n_samples = data_shape[0] if data_shape else config.data.n_samples
        raise ConfigError(
            {
                "n_samples": f"this network on {n_samples:,} samples needs about {memory:.0f} MB, "
                f"over the cap of {limits.max_memory_mb} MB; use fewer samples or smaller layers"
            }
        )
