"""A compressed-tensors checkpoint into GGUF without re-rounding (issue 10, scope 5).

llama.cpp users ask to bring GPTQ/AWQ-quality weights into GGUF: `lowbit quantize CT_DIR -o m.gguf
--gguf-type Q4_0` carries a symmetric int4 group-32 checkpoint's codes and scales into Q4_0 blocks.
gguf-py's dequantizer must then give back exactly what compressed-tensors decompresses (our
`lowbit dequantize`, itself checked bit for bit against compressed-tensors in
test_compressed_tensors.py), and llama.cpp must run the file.
"""
import json
import re
import subprocess

import numpy as np
import pytest

from conftest import BUILD, ROOT

WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-raw-test.txt"


def gguf_weights(path, names):
    import gguf
    r = gguf.GGUFReader(str(path))
    return {t.name: (t.tensor_type.name, gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)) for t in r.tensors
            if t.name in names}


def dense_weights(folder):
    import torch
    from safetensors.torch import load_file as load_torch
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        for k, v in load_torch(str(f)).items():
            out[k] = v.to(torch.float32).numpy()
    return out


def linear_pairs(dense, config):
    """(gguf name, HF weight in llama.cpp's row order) for the Linears of three layers."""
    names = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    n = config["num_hidden_layers"]
    for i in (0, n // 2, n - 1):  # three layers: gguf-py's numpy decoder is slow on all 210 tensors
        for g, h in names.items():
            w = dense[f"model.layers.{i}.{h}.weight"]
            if g == "attn_q":
                w = permute(w, config["num_attention_heads"])
            elif g == "attn_k":
                w = permute(w, config["num_key_value_heads"])
            yield f"blk.{i}.{g}.weight", w


def permute(w, heads):
    """The converter's Llama Q/K permutation: row h*d + 2j + s <- row h*d + s*d/2 + j."""
    rows = w.shape[0]
    d = rows // heads
    return w.reshape(heads, 2, d // 2, -1).swapaxes(1, 2).reshape(rows, -1)


@pytest.mark.parametrize("scheme,ftype", [("W4A16", "Q4_0"), ("W4A16_ASYM", "Q4_1")])
def test_compressed_tensors_codes_go_into_gguf_blocks(scheme, ftype, smollm2, lowbit, llama_cpp, tmp_path):
    ct = tmp_path / "ct"
    lowbit("quantize", smollm2, "-o", ct, "--scheme", scheme, "--group-size", "32", "--ignore", "lm_head",
           "--progress", "off", "--no-report")
    out = tmp_path / "m.gguf"
    proc = subprocess.run([str(BUILD / "lowbit"), "quantize", str(ct), "-o", str(out), "--gguf-type", ftype,
                           "--token-embedding-type", "bf16", "--progress", "off"], capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "210 quantized module(s) kept their codes and scales, 0 decoded" in log, log
    dense = tmp_path / "dense"
    lowbit("dequantize", ct, "-o", dense)
    import torch
    config = json.loads((smollm2 / "config.json").read_text())
    ref = dense_weights(dense)
    pairs = list(linear_pairs(ref, config))
    ours = gguf_weights(out, {name for name, _ in pairs})
    for name, want in pairs:
        t, got = ours[name]
        assert t == ftype, (name, t)
        got = got.reshape(want.shape)
        # compressed-tensors decompresses into the model's dtype (BF16): s * q rounded once more.
        got = torch.from_numpy(got).to(torch.bfloat16).to(torch.float32).numpy()
        if ftype == "Q4_0":  # the same grid: every value exactly what compressed-tensors decompresses
            assert np.array_equal(got, want), (name, float(np.abs(got - want).max()))
        else:  # Q4_1: codes and scales kept; each block's offset m = -s (z + 8) rounded to FP16 (11 bits)
            # (|m| is at most about its block's largest |w|), then rounded to BF16: one BF16 ulp more.
            bound = 2.0**-10 * np.abs(want).max(axis=1, keepdims=True) + 2.0**-7 * np.abs(want)
            assert np.all(np.abs(got - want) <= bound), (name, float(np.abs(got - want).max()))
    if ftype == "Q4_0" and WIKITEXT.exists():  # llama.cpp loads it and runs it: perplexity close to our engine's on the checkpoint
        proc = subprocess.run([str(llama_cpp / "llama-perplexity"), "-m", str(out), "-f", str(WIKITEXT), "-c", "512",
                               "--chunks", "4", "-t", "2"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ppl_llama = float(re.search(r"Final estimate: PPL = ([0-9.]+)", proc.stdout + proc.stderr).group(1))
        ours_eval = lowbit("eval", ct, "--text", WIKITEXT, "--ctx", "512", "--chunks", "4", "--json", tmp_path / "e.json")
        ppl_ours = json.loads((tmp_path / "e.json").read_text())["ppl"]
        # Not the same arithmetic: llama.cpp rounds activations to Q8 blocks for its Q4 dot products.
        assert abs(ppl_llama / ppl_ours - 1) < 0.02, (ppl_llama, ppl_ours, ours_eval[-500:])


@pytest.mark.parametrize("ftype", ["Q4_0", "Q4_K_M"])
def test_gptq_onto_gguf_types_in_one_command(ftype, smollm2, lowbit, llama_cpp, tmp_path):
    """--method gptq --gguf-type T: GPTQ onto every Linear's GGUF type, the mix --calib alone would pick, nothing
    left beside; llama.cpp loads it and its perplexity is our engine's on the same file."""
    import gguf
    calib = ROOT.parent / "shared" / "data" / "chat-calib.jsonl"
    if not calib.exists():
        pytest.skip(f"{calib} not found (shared data)")
    out = tmp_path / "gptq.gguf"
    proc = subprocess.run([str(BUILD / "lowbit"), "quantize", str(smollm2), "-o", str(out), "--gguf-type", ftype,
                           "--method", "gptq", "--calib", str(calib), "--samples", "4", "--seq-len", "128",
                           "--progress", "off"], capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "210 Linear(s) quantized by GPTQ onto their GGUF type" in log, log
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gptq.gguf"]
    types = {t.name: t.tensor_type.name.lower() for t in gguf.GGUFReader(str(out)).tensors}
    plan = subprocess.run([str(BUILD / "lowbit"), "quantize", str(smollm2), "-o", str(tmp_path / "plan.gguf"),
                           "--gguf-type", ftype, "--calib", str(calib), "--dry-run"], capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    planned = dict(line.split() for line in plan.stdout.splitlines()[1:] if line and not line.startswith("note:"))
    assert {k: v.lower() for k, v in planned.items()} == types
    if ftype == "Q4_K_M":
        assert types["blk.0.ffn_down.weight"] in ("q4_k", "q6_k") and "q5_0" in types.values()  # k-quants and fallbacks
    if WIKITEXT.exists():
        proc = subprocess.run([str(llama_cpp / "llama-perplexity"), "-m", str(out), "-f", str(WIKITEXT), "-c", "512",
                               "--chunks", "2", "-t", "2"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        ppl_llama = float(re.search(r"Final estimate: PPL = ([0-9.]+)", proc.stdout + proc.stderr).group(1))
        lowbit("eval", out, "--text", WIKITEXT, "--ctx", "512", "--chunks", "2", "--json", tmp_path / "e.json")
        ppl_ours = json.loads((tmp_path / "e.json").read_text())["ppl"]
        # Not the same arithmetic: llama.cpp rounds activations to Q8 blocks for its quantized dot products.
        assert abs(ppl_llama / ppl_ours - 1) < 0.02, (ppl_llama, ppl_ours)

