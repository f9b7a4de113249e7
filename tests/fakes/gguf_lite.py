"""Minimal GGUF (v2/v3, little-endian) reading and writing for the fakes.

Standard library only. Tensor data is never materialised: the writer lays
out the header like gguf-py and llama-quantize do (metadata, tensor infos,
padding to general.alignment, then each tensor padded to the alignment) and
fills the data section with zeros by extending the file.
"""

import os
import struct

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# GGUF value types (gguf.h enum gguf_type).
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, \
    UINT64, INT64, FLOAT64 = range(13)
_SCALAR_FORMATS = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I",
    INT32: "<i", FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q",
    FLOAT64: "<d",
}

# ggml types: id -> (name, elements per block, bytes per block).
GGML_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18),
    3: ("q4_1", 32, 20), 6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24),
    8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36), 10: ("q2_K", 256, 84),
    11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144), 13: ("q5_K", 256, 176),
    14: ("q6_K", 256, 210), 15: ("q8_K", 256, 292), 16: ("iq2_xxs", 256, 66),
    17: ("iq2_xs", 256, 74), 18: ("iq3_xxs", 256, 98), 19: ("iq1_s", 256, 50),
    20: ("iq4_nl", 32, 18), 21: ("iq3_s", 256, 110), 22: ("iq2_s", 256, 82),
    23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1), 25: ("i16", 1, 2),
    26: ("i32", 1, 4), 27: ("i64", 1, 8), 28: ("f64", 1, 8),
    29: ("iq1_m", 256, 56), 30: ("bf16", 1, 2), 34: ("tq1_0", 256, 54),
    35: ("tq2_0", 256, 66), 39: ("mxfp4", 32, 17),
}
GGML_TYPE_IDS = {name: tid for tid, (name, _, _) in GGML_TYPES.items()}


class GgufError(Exception):
    """A file that is not a GGUF this module can read."""


def tensor_bytes(ggml_type, dims):
    """Bytes of a tensor with ggml dims (dims[0] is the row length)."""
    _, block, size = GGML_TYPES[ggml_type]
    n = 1
    for d in dims:
        n *= d
    return n // block * size


def _pad(n, alignment):
    return n + (alignment - n % alignment) % alignment


class Tensor:
    def __init__(self, name, dims, ggml_type, offset=0):
        self.name = name
        self.dims = list(dims)  # ggml order
        self.type = ggml_type
        self.offset = offset

    @property
    def nbytes(self):
        return tensor_bytes(self.type, self.dims)

    @property
    def type_name(self):
        return GGML_TYPES[self.type][0]


class Gguf:
    """Metadata (ordered list of [key, value_type, value]) and tensor infos.

    Array values are (element_type, [items]); nested arrays nest the same way.
    """

    def __init__(self):
        self.version = 3
        self.kv = []
        self.tensors = []

    def get(self, key, default=None):
        for k, _, v in self.kv:
            if k == key:
                return v
        return default

    def set(self, key, value_type, value):
        for entry in self.kv:
            if entry[0] == key:
                entry[1], entry[2] = value_type, value
                return
        self.kv.append([key, value_type, value])

    @property
    def alignment(self):
        return self.get("general.alignment", DEFAULT_ALIGNMENT) or DEFAULT_ALIGNMENT

    # Writing -----------------------------------------------------------

    def header_bytes(self):
        out = bytearray(GGUF_MAGIC)
        out += struct.pack("<IQQ", self.version, len(self.tensors), len(self.kv))
        for key, vtype, value in self.kv:
            _put_string(out, key)
            out += struct.pack("<I", vtype)
            _put_value(out, vtype, value)
        offset = 0
        for t in self.tensors:
            t.offset = offset
            _put_string(out, t.name)
            out += struct.pack("<I", len(t.dims))
            for d in t.dims:
                out += struct.pack("<Q", d)
            out += struct.pack("<IQ", t.type, offset)
            offset = _pad(offset + t.nbytes, self.alignment)
        if self.tensors:
            out += b"\0" * (_pad(len(out), self.alignment) - len(out))
        return bytes(out), offset

    def write(self, path, on_tensor=None):
        """Writes the file; on_tensor(index, tensor, handle) runs before each
        tensor's bytes go out (progress lines, injected faults). The zeroed
        data sections are allocated, not left as holes, so the file takes its
        real size on disk and a full disk fails the write (OSError ENOSPC) as
        it fails the real tools."""
        header, data_size = self.header_bytes()
        with open(path, "wb") as f:
            f.write(header)
            f.flush()
            for i, t in enumerate(self.tensors):
                if on_tensor is not None:
                    on_tensor(i, t, f)
                end = len(header) + _pad(t.offset + t.nbytes, self.alignment)
                start = len(header) + t.offset
                if end > start:
                    os.posix_fallocate(f.fileno(), start, end - start)
                f.truncate(end)
                f.seek(0, 2)
            f.truncate(len(header) + data_size)


def _put_string(out, s):
    data = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    out += struct.pack("<Q", len(data))
    out += data


def _put_value(out, vtype, value):
    if vtype == STRING:
        _put_string(out, value)
    elif vtype == ARRAY:
        element_type, items = value
        out += struct.pack("<IQ", element_type, len(items))
        for item in items:
            _put_value(out, element_type, item)
    else:
        out += struct.pack(_SCALAR_FORMATS[vtype], value)


# Reading -----------------------------------------------------------------

class _Reader:
    def __init__(self, data, path):
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n):
        if n > len(self.data) - self.pos:
            raise GgufError(f"{self.path}: truncated at byte {self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.unpack("<Q")).decode("utf-8", "replace")

    def value(self, vtype, depth=0):
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            if depth > 4:
                raise GgufError(f"{self.path}: arrays nested too deep")
            element_type = self.unpack("<I")
            count = self.unpack("<Q")
            if count > len(self.data) - self.pos:
                raise GgufError(f"{self.path}: array count {count} too large")
            return (element_type,
                    [self.value(element_type, depth + 1) for _ in range(count)])
        if vtype not in _SCALAR_FORMATS:
            raise GgufError(f"{self.path}: unknown value type {vtype}")
        return self.unpack(_SCALAR_FORMATS[vtype])


def read(path):
    """Reads a GGUF header (metadata and tensor infos) from `path`."""
    with open(path, "rb") as f:
        data = f.read()
    r = _Reader(data, path)
    if r.take(4) != GGUF_MAGIC:
        raise GgufError(f"{path}: invalid magic characters, expected 'GGUF'")
    g = Gguf()
    g.version = r.unpack("<I")
    if g.version not in (2, 3):
        raise GgufError(f"{path}: unsupported GGUF version {g.version}")
    n_tensors = r.unpack("<Q")
    n_kv = r.unpack("<Q")
    for _ in range(n_kv):
        key = r.string()
        vtype = r.unpack("<I")
        g.kv.append([key, vtype, r.value(vtype)])
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.unpack("<I")
        dims = [r.unpack("<Q") for _ in range(n_dims)]
        ggml_type = r.unpack("<I")
        offset = r.unpack("<Q")
        if ggml_type not in GGML_TYPES:
            raise GgufError(f"{path}: tensor '{name}' has invalid ggml type {ggml_type}")
        g.tensors.append(Tensor(name, dims, ggml_type, offset))
    data_start = _pad(r.pos, g.alignment)
    for t in g.tensors:
        if data_start + t.offset + t.nbytes > len(data):
            raise GgufError(
                f"{path}: tensor '{t.name}' data is not within the file bounds")
    return g
