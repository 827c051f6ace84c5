"""lowbit's own forward pass against Hugging Face transformers (PyTorch, CPU, float32) on
the tiny generated models and on SmolLM2-135M, and on quantized checkpoints against the
same model with our dequantized weights."""
import numpy as np
import pytest
import torch

from conftest import MODELS

TOKENS = [1, 7, 42, 300, 5, 99, 12, 256, 3, 77, 410, 2, 8, 150, 61, 33]


def our_logits(lowbit, model_dir, tmp_path, tokens=TOKENS):
    out = tmp_path / "logits.f32"
    lowbit("forward", model_dir, "--tokens", ",".join(map(str, tokens)), "-o", out)
    return torch.from_numpy(np.fromfile(out, dtype=np.float32)).reshape(len(tokens), -1)


def hf_logits(model_dir, tokens=TOKENS):
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    with torch.no_grad():
        return m(torch.tensor([tokens])).logits[0].float()


def assert_close(ours, ref):
    scale = ref.abs().max().item()
    err = (ours - ref).abs().max().item()
    agree = (ours.argmax(-1) == ref.argmax(-1)).float().mean().item()
    assert err <= 1e-3 * scale + 1e-4, (err, scale)
    assert agree == 1.0


@pytest.mark.parametrize("model", list(MODELS))
def test_forward_matches_transformers_on_tiny_models(tiny_model, lowbit, tmp_path, model):
    src = tiny_model(model, **MODELS[model])
    assert_close(our_logits(lowbit, src, tmp_path), hf_logits(src))


def test_forward_matches_transformers_on_smollm2(smollm2, lowbit, tmp_path):
    out = smollm2
    tokens = list(range(1, 200, 3))
    assert_close(our_logits(lowbit, out, tmp_path, tokens), hf_logits(out, tokens))


@pytest.mark.parametrize("scheme", ["W4A16", "W4A16_ASYM", "W8A8", "FP8_BLOCK", "MXFP4A16", "NVFP4A16"])
def test_quantized_path_equals_dequantized_dense(checkpoints, lowbit, tmp_path, scheme):
    """Decoding inside the matmul gives exactly what running the dequantized checkpoint gives."""
    _, qdir, ddir = checkpoints("llama", scheme)
    (tmp_path / "q").mkdir()
    (tmp_path / "d").mkdir()
    q = our_logits(lowbit, qdir, tmp_path / "q")
    d = our_logits(lowbit, ddir, tmp_path / "d")
    assert torch.equal(q, d)


def hf_chunk_stats(model_dir, tokens, ctx, chunks, first):
    """Per-token log-probs of the next token, llama.cpp-style scoring window, with transformers."""
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    out = []
    with torch.no_grad():
        for c in range(chunks):
            chunk = torch.tensor([tokens[c * ctx:(c + 1) * ctx]])
            lp = m(chunk).logits[0].double().log_softmax(-1)
            out.append(lp[first:ctx - 1])
    return out


def test_eval_matches_transformers_perplexity_and_kld(smollm2, lowbit, tmp_path):
    """`lowbit eval` on SmolLM2 (W8A16 g64 vs the original), 2 chunks of 128 tokens of WikiText-2."""
    import json
    from test_tokenizer import WIKITEXT
    if not WIKITEXT.exists():
        pytest.skip("shared WikiText-2 text not found")
    from tokenizers import Tokenizer
    text = tmp_path / "text.txt"
    text.write_text(WIKITEXT.read_text()[:5000])
    tokens = Tokenizer.from_file(str(smollm2 / "tokenizer.json")).encode(text.read_text(), add_special_tokens=False).ids
    q = tmp_path / "q"
    lowbit("quantize", smollm2, "-o", q, "--scheme", "W8A16", "--group-size", "64", "--ignore", "lm_head",
           "--progress", "off", "--no-report")
    report = tmp_path / "report.json"
    lowbit("eval", q, "--base", smollm2, "--text", text, "--ctx", "128", "--chunks", "2", "--json", report)
    ours = json.loads(report.read_text())
    dense = tmp_path / "d"
    lowbit("dequantize", q, "-o", dense)
    lq = torch.cat(hf_chunk_stats(dense, tokens, 128, 2, 64))
    lb = torch.cat(hf_chunk_stats(smollm2, tokens, 128, 2, 64))
    nxt = torch.tensor([tokens[c * 128 + j + 1] for c in range(2) for j in range(64, 127)])
    ppl = torch.exp(-lq.gather(1, nxt[:, None]).mean()).item()
    base_ppl = torch.exp(-lb.gather(1, nxt[:, None]).mean()).item()
    kld = (lb.exp() * (lb - lq)).sum(-1).mean().item()
    top1 = (lq.argmax(-1) == lb.argmax(-1)).double().mean().item()
    assert ours["tokens_scored"] == 2 * 63
    assert ours["ppl"] == pytest.approx(ppl, rel=1e-3)
    assert ours["base_ppl"] == pytest.approx(base_ppl, rel=1e-3)
    assert ours["mean_kld"] == pytest.approx(kld, rel=0.05, abs=1e-4)
    assert ours["top1_agreement"] == pytest.approx(top1, abs=0.02)


def test_generate_matches_transformers_greedy(smollm2, lowbit):
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    prompt = "The capital of France is"
    ours = [int(x) for x in lowbit("generate", smollm2, "--prompt", prompt, "-n", "12", "--ids").strip().split(",")]
    ids = Tokenizer.from_file(str(smollm2 / "tokenizer.json")).encode(prompt, add_special_tokens=False).ids
    m = AutoModelForCausalLM.from_pretrained(str(smollm2), dtype=torch.float32)
    with torch.no_grad():
        ref = m.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)[0, len(ids):].tolist()
    assert ours == ref
