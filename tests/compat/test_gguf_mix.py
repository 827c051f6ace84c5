"""llama.cpp's quantization mixes: for every ftype and llama-quantize's type options, the ggml
type lowbit's mix (quant/gguf_mix.h, through tests/fixtures/gguf_mix_main.cc) gives each tensor
equals the type `llama-quantize --dry-run` prints for it, on GGUFs convert_hf_to_gguf.py made
from a tiny Llama (16 layers, 256 wide, grouped-query attention), a tiny tied Qwen2 (320 wide:
fallbacks), a tiny Qwen3 and SmolLM2-135M (576 wide: fallbacks everywhere).

The converter refuses the tiny Qwen models: transformers builds a Qwen2Tokenizer for them, whose
pre-tokenizer hash it does not know. llama-quantize reads no vocabulary, so their GGUFs are
written with gguf-py's GGUFWriter, named by gguf-py's own tensor-name map (tensor_mapping.py)."""
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

from conftest import BUILD
from test_llama_cpp import to_gguf

# llama-quantize's ftypes (without Q1_0/Q2_0, whose ggml types are fork-specific, and COPY).
FTYPES = ["Q4_0", "Q4_1", "MXFP4_MOE", "Q5_0", "Q5_1", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M",
          "TQ1_0", "TQ2_0", "Q2_K", "Q2_K_S", "IQ3_XXS", "IQ3_S", "IQ3_M", "Q3_K", "IQ3_XS", "Q3_K_S", "Q3_K_M",
          "Q3_K_L", "IQ4_NL", "IQ4_XS", "Q4_K", "Q4_K_S", "Q4_K_M", "Q5_K", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0",
          "F16", "BF16", "F32"]

# The models: make-tiny-model flags, or the real SmolLM2. The Llama gets SmolLM2's tokenizer (and
# vocabulary size), so that the converter knows its pre-tokenizer.
TINY = {
    "llama16": dict(arch="llama", layers=16, hidden=256, intermediate=768, heads=8, kv_heads=2, vocab=49152),
    "qwen2-tied": dict(arch="qwen2", layers=9, hidden=320, intermediate=640, heads=5, kv_heads=5, vocab=1000,
                       tied=True),
    "qwen3": dict(arch="qwen3", layers=8, hidden=256, intermediate=512, heads=4, kv_heads=1, head_dim=64,
                  vocab=1000, dtype="f16"),
}
CONVERTED = {"llama16", "smollm2"}
OUTTYPE = {"llama16": "bf16", "qwen2-tied": "f32", "qwen3": "f16", "smollm2": "bf16"}  # convert's --outtype

# llama-quantize's options, and the same for our fixture: (llama-quantize flags, gguf-mix flags).
VARIANTS = {
    "plain": ([], []),
    "pure": (["--pure"], ["--pure"]),
    "output-q8_0": (["--output-tensor-type", "q8_0"], ["--output-tensor-type", "q8_0"]),
    "output-q4_K": (["--output-tensor-type", "q4_K"], ["--output-tensor-type", "q4_K"]),
    "embd-q4_0": (["--token-embedding-type", "q4_0"], ["--token-embedding-type", "q4_0"]),
    "attn_v-q8_0": (["--tensor-type", "attn_v=q8_0"], ["--tensor-type", "attn_v=q8_0"]),
    # one layer overridden: llama-quantize's attn_v / ffn_down counters skip it
    "blk1-overrides": (["--tensor-type", r"blk\.1\.attn_v=q5_k", "--tensor-type", r"BLK\.1\.ffn_down=Q8_0"],
                       ["--tensor-type", r"blk\.1\.attn_v=q5_k", "--tensor-type", r"BLK\.1\.ffn_down=Q8_0"]),
    "leave-output": (["--leave-output-tensor"], ["--leave-output-tensor"]),
    "imatrix": (["--imatrix", "{imatrix}"], ["--imatrix"]),
}

# The variants other than plain and imatrix run on these (every rule family and fallback kind).
SOME_FTYPES = ["Q4_0", "MXFP4_MOE", "IQ2_XXS", "Q2_K", "Q3_K_M", "IQ4_XS", "Q4_K_M", "Q5_K_S", "Q6_K", "Q8_0", "F16"]

LINE = re.compile(r"^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\w+), size =.*?(?:\((\w+)\))?\s*$")


WRITE_GGUF = r"""
import json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
import gguf

src, out, outtype = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = json.loads((src / "config.json").read_text())
arch = {"Qwen2ForCausalLM": gguf.MODEL_ARCH.QWEN2, "Qwen3ForCausalLM": gguf.MODEL_ARCH.QWEN3}[cfg["architectures"][0]]
n = cfg["num_hidden_layers"]
w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])
w.add_context_length(cfg.get("max_position_embeddings", 2048))
w.add_embedding_length(cfg["hidden_size"])
w.add_block_count(n)
w.add_feed_forward_length(cfg["intermediate_size"])
w.add_head_count(cfg["num_attention_heads"])
w.add_head_count_kv(cfg["num_key_value_heads"])
w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
names = gguf.get_tensor_name_map(arch, n)
dtype, qtype = {"f32": (torch.float32, gguf.GGMLQuantizationType.F32),
                "f16": (torch.float16, gguf.GGMLQuantizationType.F16)}[outtype]
for f in sorted(src.glob("*.safetensors")):
    for name, t in load_file(str(f)).items():
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new, name
        f32 = t.dim() <= 1 or new.endswith("_norm.weight")  # as the converter stores them
        w.add_tensor(new, t.to(torch.float32 if f32 else dtype).numpy(),
                     raw_dtype=gguf.GGMLQuantizationType.F32 if f32 else qtype)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
"""


def write_gguf(llama_cpp, src, out, outtype):
    env = dict(os.environ, PYTHONPATH=str(llama_cpp.parent / "gguf-py"))
    proc = subprocess.run([sys.executable, "-c", WRITE_GGUF, str(src), str(out), outtype], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def gguf_models(tiny_model, smollm2, llama_cpp, tmp_path_factory):
    """name -> (HF folder, its GGUF)."""
    out = tmp_path_factory.mktemp("gguf-mix")
    models = {"smollm2": smollm2}
    for name, spec in TINY.items():
        models[name] = tiny_model("gguf-mix-" + name, **spec)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(smollm2 / f, models["llama16"] / f)
    return {name: (src, (to_gguf if name in CONVERTED else write_gguf)(llama_cpp, src, out / f"{name}.gguf",
                                                                     OUTTYPE[name]))
            for name, src in models.items()}


@pytest.fixture(scope="module")
def imatrix(tmp_path_factory):
    """A legacy-format (.dat) importance matrix with one entry: enough for llama-quantize to
    apply its with-imatrix rules in a dry run, which reads no data."""
    path = tmp_path_factory.mktemp("imatrix") / "one.dat"
    name = b"blk.0.attn_q.weight"
    data = struct.pack("<ii", 1, len(name)) + name + struct.pack("<ii", 1, 256) + struct.pack("<256f", *[1.0] * 256)
    path.write_bytes(data + struct.pack("<ii", 1, 0))
    return path


def llama_types(llama_cpp, gguf, ftype, flags):
    proc = subprocess.run([str(llama_cpp / "llama-quantize"), "--dry-run", *flags, str(gguf), ftype],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    types = {}
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        m = LINE.match(line.strip())
        if m:
            types[m.group(1)] = m.group(3) or m.group(2)
    assert types, proc.stderr[-4000:]
    return types


def our_types(src, outtype, ftype, flags):
    proc = subprocess.run([str(BUILD / "gguf-mix"), str(src), ftype, "--source-type", outtype, *flags],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return dict(line.split() for line in proc.stdout.splitlines())


@pytest.mark.parametrize("model", ["llama16", "qwen2-tied", "qwen3", "smollm2"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mix_equals_llama_quantize(gguf_models, llama_cpp, imatrix, model, variant):
    src, gguf = gguf_models[model]
    theirs_flags, ours_flags = VARIANTS[variant]
    theirs_flags = [str(imatrix) if f == "{imatrix}" else f for f in theirs_flags]
    differ = {}
    for ftype in FTYPES if variant in ("plain", "imatrix") else SOME_FTYPES:
        theirs = llama_types(llama_cpp, gguf, ftype, theirs_flags)
        ours = our_types(src, OUTTYPE[model], ftype, ours_flags)
        assert set(ours) == set(theirs), (ftype, set(ours) ^ set(theirs))
        for name in theirs:
            if ours[name] != theirs[name]:
                differ[f"{ftype} {name}"] = (ours[name], theirs[name])
    assert not differ, dict(list(differ.items())[:20])


def test_the_comparison_sees_the_mix(gguf_models, llama_cpp, imatrix):
    """The parsed dry run holds what the mixes are about: on SmolLM2, Q4_K_M gives attn_v Q8_0
    (Q6_K fallen back) in use_more_bits' layers and Q5_0 (Q4_K fallen back) elsewhere."""
    _, gguf = gguf_models["smollm2"]
    t = llama_types(llama_cpp, gguf, "Q4_K_M", [])
    more = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29}
    assert {i for i in range(30) if t[f"blk.{i}.attn_v.weight"] == "q8_0"} == more
    assert {i for i in range(30) if t[f"blk.{i}.attn_v.weight"] == "q5_0"} == set(range(30)) - more
    assert t["token_embd.weight"] == "q8_0" and t["output_norm.weight"] == "f32"
    assert t["blk.3.ffn_down.weight"] == "q4_K" and t["blk.5.ffn_down.weight"] == "q6_K"
    t = llama_types(llama_cpp, gguf_models["llama16"][1], "Q2_K", [])
    assert t["blk.0.attn_v.weight"] == "q4_K" and t["output.weight"] == "q6_K"  # n_gqa 4
    # the one-entry imatrix file turns llama-quantize's with-imatrix rules on: Q4_0's first ffn_down Q4_1
    t = llama_types(llama_cpp, gguf_models["llama16"][1], "Q4_0", ["--imatrix", str(imatrix)])
    assert [t[f"blk.{i}.ffn_down.weight"] for i in range(3)] == ["q4_1", "q4_1", "q4_0"]


def test_lowbit_overrides_and_ignore(gguf_models):
    """lowbit's own syntax (no llama-quantize counterpart): a regex on the HF module path wins
    over --output-tensor-type, and an ignored module keeps the checkpoint's 16-bit type."""
    src, _ = gguf_models["llama16"]
    ours = our_types(src, "bf16", "Q4_K_M", ["--tensor-type", "re:.*down_proj=q8_0", "--tensor-type",
                                             "lm_head=q5_K", "--output-tensor-type", "q4_0", "--ignore",
                                             "model.layers.3.self_attn.v_proj"])
    assert all(ours[f"blk.{i}.ffn_down.weight"] == "q8_0" for i in range(16))
    assert ours["output.weight"] == "q5_K"
    assert ours["blk.3.attn_v.weight"] == "bf16"
    assert ours["blk.2.attn_v.weight"] == "q4_K" and ours["blk.4.attn_v.weight"] == "q6_K"
