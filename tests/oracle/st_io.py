"""Minimal safetensors reader and writer in pure Python + torch.

Deliberately independent of the `safetensors` package (which may be absent, and which the
engine's own reader/writer must not be checked against only itself).  The format:

    8 bytes   little-endian u64 N = length of the JSON header
    N bytes   UTF-8 JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
                           ..., "__metadata__": {str: str}}   (offsets relative to the data area)
    rest      the data area: every tensor's bytes, little-endian, row-major

The reader is strict on purpose (bounds, sizes, no holes or overlaps in the data area, no
trailing bytes) so that it also catches a malformed file written by the engine.
"""

import json
import struct
import sys

import torch

# safetensors dtype name -> (torch dtype, bytes per element)
_DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
}
_NAME_OF = {dt: name for name, (dt, _) in _DTYPES.items()}

# A header larger than this is certainly corrupt (the upstream format caps it at 100 MB too).
_MAX_HEADER = 100 * 1024 * 1024

if sys.byteorder != "little":  # the raw bytes below are interpreted in host order
    raise ImportError("st_io assumes a little-endian host")


class SafetensorsError(ValueError):
    """A file that does not follow the safetensors format."""


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def read_header(path):
    """Return (header dict without __metadata__, metadata dict or None, data area start)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise SafetensorsError(f"{path}: shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", raw)
        if n > _MAX_HEADER:
            raise SafetensorsError(f"{path}: header length {n} is implausible")
        text = f.read(n)
        if len(text) != n:
            raise SafetensorsError(f"{path}: header truncated ({len(text)} of {n} bytes)")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid UTF-8 JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    return header, metadata, 8 + n


def _check_entry(path, name, entry):
    """Validate one header entry; return (torch dtype, shape, begin, end)."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(f"{path}: tensor {name!r}: entry must have exactly dtype/shape/data_offsets")
    if entry["dtype"] not in _DTYPES:
        raise SafetensorsError(f"{path}: tensor {name!r}: unsupported dtype {entry['dtype']!r}")
    dtype, size = _DTYPES[entry["dtype"]]
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise SafetensorsError(f"{path}: tensor {name!r}: bad shape {shape!r}")
    offs = entry["data_offsets"]
    if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) for o in offs)
            and 0 <= offs[0] <= offs[1]):
        raise SafetensorsError(f"{path}: tensor {name!r}: bad data_offsets {offs!r}")
    if offs[1] - offs[0] != _numel(shape) * size:
        raise SafetensorsError(f"{path}: tensor {name!r}: {offs[1] - offs[0]} bytes for shape {shape} "
                               f"of {entry['dtype']}")
    return dtype, shape, offs[0], offs[1]


def load(path, with_metadata=False):
    """Read every tensor of a safetensors file into a dict name -> torch tensor (its own dtype).

    With with_metadata=True, return (tensors, metadata) instead.
    """
    header, metadata, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    entries = {name: _check_entry(path, name, e) for name, e in header.items()}

    # The data area must be covered exactly: no holes, no overlaps, nothing after the last tensor.
    cursor = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != cursor:
            raise SafetensorsError(f"{path}: tensor {name!r} starts at {begin}, expected {cursor} "
                                   "(hole or overlap in the data area)")
        cursor = end
    if cursor != len(data):
        raise SafetensorsError(f"{path}: data area is {len(data)} bytes, tensors cover {cursor}")

    tensors = {}
    for name, (dtype, shape, begin, end) in entries.items():
        if begin == end:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        # bytearray: torch.frombuffer wants a writable buffer; clone: own the memory.
        buf = bytearray(data[begin:end])
        tensors[name] = torch.frombuffer(buf, dtype=dtype).reshape(shape).clone()
    return (tensors, metadata) if with_metadata else tensors


def save(path, tensors, dtype="F32", metadata=None):
    """Write a dict name -> tensor as safetensors.

    dtype: "F32" (default), "F16", "BF16", "F64", or None to keep each tensor's own dtype.
    metadata defaults to {"format": "pt"}, which transformers expects when it loads a file.
    The header is padded with spaces so that the data area starts 8-byte aligned.
    """
    if metadata is None:
        metadata = {"format": "pt"}
    header = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name in sorted(tensors):  # sorted: deterministic files, easy to diff
        t = tensors[name].detach().cpu()
        if dtype is not None:
            t = t.to(_DTYPES[dtype][0])
        if t.dtype not in _NAME_OF:
            raise ValueError(f"tensor {name!r}: dtype {t.dtype} is not supported")
        t = t.contiguous()
        # view as bytes: works for bfloat16 too, which numpy cannot represent
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _NAME_OF[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
