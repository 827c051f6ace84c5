"""lowbit's GGUF container against gguf-py, the reference Python implementation llama.cpp ships:
files gguf-py's GGUFWriter writes, read by our GgufFile (dumped as JSON by gguf-roundtrip), give the
keys, value types, values and tensors (name, ne, type, offset, bytes) gguf-py's GGUFReader reports;
and files our GgufWriter writes are read by GGUFReader as exactly what we asked to write.
"""
import hashlib
import json

import numpy as np
import pytest

from conftest import BUILD, run

gguf = pytest.importorskip("gguf")
VT = gguf.GGUFValueType

NAMES = {VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32", VT.INT32: "i32",
         VT.FLOAT32: "f32", VT.BOOL: "bool", VT.STRING: "str", VT.ARRAY: "arr", VT.UINT64: "u64", VT.INT64: "i64",
         VT.FLOAT64: "f64"}
TYPES = {v: k for k, v in NAMES.items()}

F32_TENTH = float(np.float32(0.1))  # what a float32 0.1 reads back as

# (key, type, value): every scalar type at its edges, and every array kind.
SCALARS = [("v.u8", "u8", 255), ("v.i8", "i8", -128), ("v.u16", "u16", 65535), ("v.i16", "i16", -32768),
           ("v.u32", "u32", 2**32 - 1), ("v.i32", "i32", -2**31), ("v.f32", "f32", F32_TENTH),
           ("v.bool", "bool", True), ("v.false", "bool", False), ("v.str", "str", "héllo wörld, 日本"),
           ("v.u64", "u64", 2**64 - 1), ("v.i64", "i64", -2**63), ("v.f64", "f64", 1e-300)]
ARRAYS = [("a.u8", "u8", [0, 255]), ("a.i8", "i8", [-1, 127]), ("a.u16", "u16", [1, 65535]),
          ("a.i16", "i16", [-2, 3]), ("a.u32", "u32", [7, 8, 2**32 - 1]), ("a.i32", "i32", [-7, 8]),
          ("a.f32", "f32", [1.25, F32_TENTH, -3.0]), ("a.bool", "bool", [False, True, True]),
          ("a.u64", "u64", [2**63]), ("a.i64", "i64", [-1, 2**62]), ("a.f64", "f64", [1e300, -0.5]),
          ("a.str", "str", ["Ġthe", "", "<0x0A>", "▁日本"])]


def f16_bytes(n, seed):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float16)


def raw_blocks(rows, nbytes_per_row, seed):
    return np.random.default_rng(seed).integers(0, 256, (rows, nbytes_per_row), dtype=np.uint8)


def reader_view(path):
    """What gguf-py's GGUFReader sees, in gguf-roundtrip dump's shape."""
    r = gguf.GGUFReader(path)
    metadata = []
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue  # the reader's pseudo-fields for version and counts
        kv = {"key": name, "type": NAMES[f.types[0]], "value": f.contents()}
        if f.types[0] == VT.ARRAY:
            kv["element_type"] = NAMES[VT(int(f.parts[3][0]))]  # also for an empty array
        metadata.append(kv)
    tensors = [{"name": t.name, "ne": [int(x) for x in t.shape], "type": t.tensor_type.name.lower(),
                "offset": int(t.data_offset) - r.data_offset, "nbytes": int(t.n_bytes),
                "sha256": hashlib.sha256(t.data.tobytes()).hexdigest()} for t in r.tensors]
    return {"alignment": int(r.alignment), "data_start": int(r.data_offset), "metadata": metadata, "tensors": tensors}


def our_view(path):
    d = json.loads(run(BUILD / "gguf-roundtrip", "dump", path))
    assert d["version"] == 3
    for t in d["tensors"]:
        t["type"] = t["type"].lower()  # ggml spells "q4_K", gguf-py "Q4_K"
    return {k: d[k] for k in ("alignment", "data_start", "metadata", "tensors")}


@pytest.mark.parametrize("alignment", [None, 64])
def test_we_read_what_gguf_py_writes(tmp_path, alignment):
    path = tmp_path / "py.gguf"
    w = gguf.GGUFWriter(path, "llama")
    if alignment:
        w.add_custom_alignment(alignment)
    for key, typ, value in SCALARS:
        w.add_key_value(key, value, TYPES[typ])
    for key, typ, value in ARRAYS:
        w.add_key_value(key, value, VT.ARRAY, sub_type=TYPES[typ])
    w.add_tensor("f32.weight", np.arange(8, dtype=np.float32).reshape(2, 4))
    w.add_tensor("row.weight", np.ones((1, 8), dtype=np.float32))  # gguf-py keeps the 1: ne [8, 1]
    w.add_tensor("f16.weight", f16_bytes(3, 1))
    w.add_tensor("q8.weight", raw_blocks(2, 2 * 34, 2), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("q4k.weight", raw_blocks(3, 2 * 144, 3), raw_dtype=gguf.GGMLQuantizationType.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    ours, theirs = our_view(path), reader_view(path)
    assert ours == theirs
    # and they are what was written
    assert [kv["key"] for kv in ours["metadata"]][0] == "general.architecture"
    by_key = {kv["key"]: kv for kv in ours["metadata"]}
    for key, typ, value in SCALARS:
        assert (by_key[key]["type"], by_key[key]["value"]) == (typ, value), key
    for key, typ, value in ARRAYS:
        assert (by_key[key]["type"], by_key[key]["element_type"], by_key[key]["value"]) == ("arr", typ, value), key
    assert ours["alignment"] == (alignment or 32)
    assert [(t["name"], t["ne"], t["type"]) for t in ours["tensors"]] == [
        ("f32.weight", [4, 2], "f32"), ("row.weight", [8, 1], "f32"), ("f16.weight", [3], "f16"),
        ("q8.weight", [64, 2], "q8_0"), ("q4k.weight", [512, 3], "q4_k")]


def description():
    rng = np.random.default_rng(7)
    metadata = [{"key": "general.architecture", "type": "str", "value": "qwen2"}]
    metadata += [{"key": k, "type": t, "value": v} for k, t, v in SCALARS]
    metadata += [{"key": k, "type": "arr", "element_type": t, "value": v} for k, t, v in ARRAYS]
    metadata.append({"key": "a.empty", "type": "arr", "element_type": "i32", "value": []})
    tensors = [("norm.weight", [5], "f32", 20), ("f16.weight", [3, 2], "f16", 12), ("q8.weight", [64, 2], "q8_0", 136),
               ("q4k.weight", [512, 3], "q4_K", 864), ("bf16.weight", [2, 3, 4], "bf16", 48)]
    return {"metadata": metadata,
            "tensors": [{"name": n, "ne": ne, "type": t, "data_hex": rng.integers(0, 256, nb, dtype=np.uint8).tobytes().hex()}
                        for n, ne, t, nb in tensors]}


def test_gguf_py_reads_what_we_write(tmp_path):
    desc = description()
    (tmp_path / "desc.json").write_text(json.dumps(desc))
    path = tmp_path / "ours.gguf"
    run(BUILD / "gguf-roundtrip", "write", tmp_path / "desc.json", path)

    theirs = reader_view(path)
    assert theirs["metadata"] == desc["metadata"]
    assert theirs["alignment"] == 32 and theirs["data_start"] % 32 == 0
    offset = 0
    for t, want in zip(theirs["tensors"], desc["tensors"], strict=True):
        data = bytes.fromhex(want["data_hex"])
        assert (t["name"], t["ne"], t["type"]) == (want["name"], want["ne"], want["type"].lower())
        assert (t["offset"], t["nbytes"]) == (offset, len(data))
        assert t["sha256"] == hashlib.sha256(data).hexdigest()
        offset += (len(data) + 31) // 32 * 32
    assert path.stat().st_size == theirs["data_start"] + offset  # padded after the last tensor too
    assert our_view(path) == theirs
