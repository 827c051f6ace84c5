"""lowbit's GGUF files against llama.cpp's own tools on the same weights.

The reference is what a llama.cpp user does: convert_hf_to_gguf.py --outtype bf16, then
llama-quantize FTYPE. lowbit writes the GGUF straight from the Hugging Face folder; for every
ftype both files must hold the same tensors with the same types and the very same bytes, and
the same metadata (the converter's keys, less the name it derives from the folder), and
llama.cpp must load and run ours (llama-perplexity).
"""
import shutil
import subprocess

import numpy as np
import pytest

from conftest import BUILD, ROOT, run, to_gguf

WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-raw-test.txt"
# Keys the converter derives from the folder name or that only lowbit writes.
NAME_KEYS = {"general.name", "general.basename", "general.finetune", "general.size_label", "general.quantized_by"}


def read(path):
    import gguf
    r = gguf.GGUFReader(str(path))
    kv = {}
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k in NAME_KEYS:
            continue
        kv[k] = ([t.name for t in f.types], f.contents())
    tensors = {t.name: (t.tensor_type.name, [int(x) for x in t.shape], bytes(np.asarray(t.data).view(np.uint8).ravel()))
               for t in r.tensors}
    return kv, tensors


def compare(ours, ref):
    kv_o, t_o = read(ours)
    kv_r, t_r = read(ref)
    assert kv_o.keys() == kv_r.keys(), (sorted(kv_o.keys() - kv_r.keys()), sorted(kv_r.keys() - kv_o.keys()))
    for k in kv_r:
        assert kv_o[k] == kv_r[k], f"{k}: ours {str(kv_o[k])[:200]} llama.cpp {str(kv_r[k])[:200]}"
    assert t_o.keys() == t_r.keys()
    types = {n: (t_o[n][0], t_r[n][0]) for n in t_r if t_o[n][0] != t_r[n][0]}
    assert not types, f"tensor types differ (ours, llama-quantize): {dict(list(types.items())[:8])}"
    bad = [n for n in t_r if t_o[n] != t_r[n]]
    assert not bad, f"{len(bad)} of {len(t_r)} tensors differ from llama-quantize's, e.g. {bad[:6]}"


@pytest.fixture(scope="session")
def tiny_gguf_model(tiny_model, smollm2, tmp_path_factory):
    """A tiny Llama whose rows are multiples of 256 (so the k-quants apply), with SmolLM2's tokenizer so that
    the converter recognises it."""
    src = tiny_model("gguf-llama", arch="llama", hidden=256, intermediate=512, layers=8, heads=4, kv_heads=2,
                     vocab=49152)
    out = tmp_path_factory.mktemp("gguf-model") / "llama"
    shutil.copytree(src, out)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(smollm2 / f, out / f)
    return out


@pytest.fixture(scope="session")
def tiny_bf16(tiny_gguf_model, llama_cpp, tmp_path_factory):
    return to_gguf(llama_cpp, tiny_gguf_model, tmp_path_factory.mktemp("tiny-bf16") / "bf16.gguf")


@pytest.fixture(scope="session")
def smollm2_bf16(smollm2, llama_cpp, tmp_path_factory):
    return to_gguf(llama_cpp, smollm2, tmp_path_factory.mktemp("smol-bf16") / "bf16.gguf")


def codec_types():
    if not (BUILD / "ggml-codec").exists():
        pytest.fail(f"{BUILD / 'ggml-codec'} is missing: build lowbit first")
    out = subprocess.run([str(BUILD / "ggml-codec"), "types"], capture_output=True, text=True)
    return set(out.stdout.split()) if out.returncode == 0 else set()


FTYPES = [("Q8_0", {"q8_0"}), ("Q4_0", {"q4_0", "q6_K"}), ("Q4_1", {"q4_1", "q6_K"}), ("Q5_0", {"q5_0", "q6_K"}),
          ("Q5_1", {"q5_1", "q6_K"}), ("Q4_K_M", {"q4_K", "q6_K"}), ("Q4_K_S", {"q4_K", "q5_K", "q6_K"}),
          ("Q5_K_M", {"q5_K", "q6_K"}), ("Q6_K", {"q6_K"}), ("Q3_K_M", {"q3_K", "q4_K", "q5_K", "q6_K"}),
          ("Q2_K", {"q2_K", "q3_K", "q4_K", "q6_K"}), ("IQ4_NL", {"iq4_nl", "q6_K"}), ("IQ4_XS", {"iq4_xs", "q6_K"}),
          ("BF16", set()), ("F16", set())]


@pytest.mark.parametrize("ftype,needs", FTYPES, ids=[f for f, _ in FTYPES])
def test_same_file_as_llama_quantize_on_a_tiny_llama(ftype, needs, tiny_gguf_model, tiny_bf16, llama_cpp, lowbit,
                                                     tmp_path):
    missing = needs - codec_types()
    if missing:
        pytest.skip(f"lowbit has no encoder for {sorted(missing)} yet")
    bf16 = tiny_bf16
    ref = tmp_path / "ref.gguf"
    proc = subprocess.run([str(llama_cpp / "llama-quantize"), str(bf16), str(ref), ftype, "2"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = tmp_path / "ours.gguf"
    lowbit("quantize", tiny_gguf_model, "-o", ours, "--gguf-type", ftype, "--threads", "2", "--progress", "off")
    compare(ours, ref)


@pytest.mark.parametrize("ftype", ["Q8_0", "Q4_0", "Q4_K_M"])
def test_same_file_as_llama_quantize_on_smollm2(ftype, smollm2, smollm2_bf16, llama_cpp, lowbit, tmp_path):
    """SmolLM2's rows (576, 1536) are not multiples of 256: llama-quantize's fallbacks decide most types."""
    needs = {"Q8_0": {"q8_0"}, "Q4_0": {"q4_0", "q8_0"}, "Q4_K_M": {"q5_0", "q8_0", "q4_K", "q6_K"}}[ftype]
    missing = needs - codec_types()
    if missing:
        pytest.skip(f"lowbit has no encoder for {sorted(missing)} yet")
    bf16 = smollm2_bf16
    ref = tmp_path / "ref.gguf"
    proc = subprocess.run([str(llama_cpp / "llama-quantize"), str(bf16), str(ref), ftype, "2"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = tmp_path / "ours.gguf"
    lowbit("quantize", smollm2, "-o", ours, "--gguf-type", ftype, "--threads", "2", "--progress", "off")
    compare(ours, ref)
    if ftype == "Q4_0" and WIKITEXT.exists():
        # llama.cpp loads and runs what we wrote.
        proc = subprocess.run([str(llama_cpp / "llama-perplexity"), "-m", str(ours), "-f", str(WIKITEXT), "-c", "512",
                               "--chunks", "2", "-t", "2"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Final estimate: PPL" in proc.stdout + proc.stderr


def test_bad_gguf_requests_are_clear_errors(tiny_gguf_model, tmp_path):
    exe = BUILD / "lowbit"
    for args, words in [
        (["--gguf-type", "Q4_K_XL"], "Q4_K_M"),                        # unknown ftype lists the valid ones
        (["--gguf-type", "Q4_K_M", "--scheme", "W4A16"], "--gguf-type"),
        (["--gguf-type", "Q4_K_M", "--tensor-type", "attn_v=q9_9"], "q9_9"),
        (["--gguf-type", "Q4_K_M", "--method", "awq"], "Q4_0 (int4 symmetric, group 32)"),  # AWQ's grid: Q4_0/Q4_1/Q8_0
        (["--gguf-type", "Q4_0", "--method", "gptq"], "needs calibration data"),
        (["--gguf-type", "Q4_K_M", "--method", "gptq", "--calib", str(tiny_gguf_model / "config.json"),
          "--imatrix", str(tiny_gguf_model / "config.json")], "computes its own"),
        (["--gguf-type", "TQ1_0"], "does not encode yet"),                # refused before any work
    ]:
        out = tmp_path / "x.gguf"
        proc = subprocess.run([str(exe), "quantize", str(tiny_gguf_model), "-o", str(out), *args],
                              capture_output=True, text=True)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert words in proc.stderr, (args, proc.stderr)
        assert not out.exists()
