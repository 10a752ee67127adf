"""Reading and writing IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

An IDX file is a big-endian header (two zero bytes, a type code, the number of dimensions,
then one uint32 size per dimension) followed by the array. Only unsigned bytes (type 0x08),
the type of every MNIST-family file, are supported.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

UBYTE = 0x08


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array stored in an IDX file (`.gz` is decompressed), e.g. (N, 28, 28)."""
    path = Path(path)
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    zero, dtype, ndim = data[:2], data[2], data[3]
    if zero != b"\0\0" or dtype != UBYTE:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", count=ndim, offset=4))
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {array.size} values")
    return array.reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when `path` ends in `.gz`)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.tobytes()
    Path(path).write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)
