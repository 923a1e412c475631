"""What a checkpoint file may contain, checked before torch reads a byte of it: an uncompressed zip of
bounded size, and a pickle of only what torch.save writes for a Module Lab run, with no more values
than a run within the limits holds. Nothing is unpickled here."""

from __future__ import annotations

import io
import zipfile

from core.config import Limits

REFUSED = (
    "not a Module Lab checkpoint, or it contains code/objects that are not plain tensors and numbers; refused"
)


class CheckpointError(ValueError):
    """The file can't be used as a checkpoint; the message says why."""


def check_archive(data: bytes, limits: Limits) -> bytes:
    """torch.save writes an uncompressed zip: refuse compressed or oversized entries, and tensors
    larger than the largest network allowed, before torch reads them. Returns the pickle, data.pkl."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or sum(e.file_size for e in entries) > len(data):
            raise CheckpointError(REFUSED)
        names = [e.filename for e in entries]
        pickles = [name for name in names if name.rsplit("/", 1)[-1] == "data.pkl"]
        if len(pickles) != 1 or len(set(names)) != len(names):  # the one torch reads is the one checked
            raise CheckpointError(REFUSED)
        tensor_bytes = sum(e.file_size for e in entries if "/data/" in e.filename)
        if tensor_bytes > _max_tensor_bytes(limits) + _max_history_bytes(limits) + _max_data_bytes(limits):
            raise CheckpointError(
                f"the checkpoint's tensors hold {tensor_bytes / 1e6:.1f} MB, more than the largest run this "
                f"server allows: {limits.max_parameters:,} parameters with Adam's two moments "
                f"({_max_tensor_bytes(limits) / 1e6:.1f} MB), {limits.max_epochs:,} epochs of history "
                f"({_max_history_bytes(limits) / 1e6:.1f} MB) and {limits.max_samples:,} uploaded rows "
                f"({_max_data_bytes(limits) / 1e6:.1f} MB)"
            )
        return archive.read(pickles[0])


def _max_tensor_bytes(limits: Limits) -> int:
    """float32 weights and Adam's two moments per parameter, and Adam's step count per parameter tensor."""
    return 3 * 4 * limits.max_parameters + 4 * 2 * (limits.max_hidden_layers + 1)


def _max_data_bytes(limits: Limits) -> int:
    """An uploaded CSV's rows, saved with its run: float32 features and target."""
    return 4 * limits.max_samples * (limits.max_features + 1)


# float64 history columns: the loss and the learning rate, a gradient norm per weight and bias of
# every Linear layer, and room for per-epoch metrics (a test loss, train and test accuracy).
HISTORY_COLUMNS_BEYOND_NORMS = 5


def _max_history_bytes(limits: Limits) -> int:
    return 8 * limits.max_epochs * (HISTORY_COLUMNS_BEYOND_NORMS + 2 * (limits.max_hidden_layers + 1))


# What torch.save writes for a Module Lab checkpoint, and nothing else. torch's weights_only
# unpickler also lets a pickle call bytearray(n) or torch.FloatTensor(n), so a tiny file could
# allocate hundreds of MB. Opcode -> bytes of its argument; None: read by check_pickle.
_OPCODES: dict[int, int | None] = {
    **{ord(code): 0 for code in "}(]e)atsuQ\x89\x88RN\x85\x86\x87"},  # containers, tuples, bools, None, calls
    0x80: 1, ord("K"): 1, ord("M"): 2, ord("J"): 4, ord("G"): 8,  # PROTO, BININT1/2, BININT, BINFLOAT
    ord("q"): 1, ord("r"): 4,  # BINPUT, LONG_BINPUT
    ord("h"): 1, ord("j"): 4,  # BINGET, LONG_BINGET: a reference to a value already made
    ord("X"): None, 0x8A: None, ord("c"): None, ord("."): None,  # BINUNICODE, LONG1, GLOBAL, STOP
}
_GETS = {ord("h"), ord("j")}
# A storage class only names a dtype; others than float32 are let through to be refused by name.
_STORAGES = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
_GLOBALS = {b"torch._utils\n_rebuild_tensor_v2", b"collections\nOrderedDict",
            *(f"torch\n{kind}Storage".encode() for kind in _STORAGES)}
MAX_REFERENCES = 2_000  # a checkpoint of the largest network makes ~300; a memo bomb, millions
MAX_TEXT = 1_000  # characters in one string: field names, parameter names, config text
# Pickle opcodes: the config, ~50 tensor records and the learning-rate changes (3 a change) of a run
# at the limits make ~1,500; the history is tensors (version 2), counted in bytes by check_archive.
MAX_VALUES = 20_000


def check_pickle(pickled: bytes) -> None:
    """Walk data.pkl's opcodes without making any object: refuse what Module Lab never writes, and
    more values than a run within the limits holds, before torch's unpickler materialises them (a
    memo bomb of references to one float would take the server's memory by the GB)."""
    position, count, references, budget = 0, 0, 0, MAX_VALUES
    while position < len(pickled):
        code, position, count = pickled[position], position + 1, count + 1
        size = _OPCODES.get(code, -1)
        if count > budget:
            raise CheckpointError(f"the checkpoint holds over {budget:,} values outside its tensors, more than a "
                                  "Module Lab run has; refused before reading them")
        if size is not None and size >= 0:
            position += size
            references += code in _GETS
            if references > MAX_REFERENCES:
                raise CheckpointError(f"the checkpoint repeats values by reference over {MAX_REFERENCES:,} times, "
                                      "which Module Lab never writes; refused before reading them")
        elif code == ord("X") or code == 0x8A:  # BINUNICODE: 4-byte length; LONG1: 1-byte length
            width = 4 if code == ord("X") else 1
            length = int.from_bytes(pickled[position:position + width], "little")
            if length > MAX_TEXT:
                raise CheckpointError(f"the checkpoint holds a text or number of {length:,} bytes; "
                                      f"at most {MAX_TEXT:,} are allowed")
            position += width + length
        elif code == ord("c"):
            end = pickled.find(b"\n", pickled.find(b"\n", position) + 1)
            if end < 0 or pickled[position:end] not in _GLOBALS:
                raise CheckpointError(REFUSED)
            position = end + 1
        elif code == ord("."):
            return
        else:
            raise CheckpointError(REFUSED)
    raise CheckpointError(REFUSED)  # no STOP: a truncated pickle
