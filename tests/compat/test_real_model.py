"""A real model end to end: SmolLM2-135M-Instruct (see tests/fixtures/smollm2.py), quantized
by lowbit, loaded by transformers on CPU, and compared with the original on WikiText-2 text.
"""
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-raw-test.txt"
CHAT = ROOT.parent / "shared" / "data" / "chat-calib.jsonl"


def kld_and_top1(base_logits, logits):
    kld = torch.nn.functional.kl_div(logits.log_softmax(-1), base_logits.log_softmax(-1), log_target=True,
                                     reduction="none").sum(-1).mean().item()
    return kld, (logits.argmax(-1) == base_logits.argmax(-1)).float().mean().item()


@pytest.fixture(scope="module")
def text_ids(smollm2):
    if not WIKITEXT.exists():
        pytest.skip(f"{WIKITEXT} not found (shared data)")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(smollm2))
    text = WIKITEXT.read_text()[:20000]
    return torch.tensor([tok(text).input_ids[:512]])


@pytest.mark.parametrize("scheme,args,max_kld", [
    ("W4A16-g64", ["--scheme", "W4A16", "--group-size", "64"], 0.5),
    ("W8A16-g64", ["--scheme", "W8A16", "--group-size", "64"], 0.01),
    ("FP8_DYNAMIC", ["--scheme", "FP8_DYNAMIC"], 0.2),
    ("NVFP4A16", ["--scheme", "NVFP4A16"], 1.0),
])
def test_quantized_smollm2_loads_and_stays_close(smollm2, text_ids, lowbit, tmp_path, scheme, args, max_kld):
    from transformers import AutoModelForCausalLM

    q, d = tmp_path / scheme, tmp_path / (scheme + "-dense")
    lowbit("quantize", smollm2, "-o", q, "--ignore", "lm_head", "--progress", "off", "--no-report", *args)
    lowbit("dequantize", q, "-o", d)
    base = AutoModelForCausalLM.from_pretrained(str(smollm2), dtype=torch.bfloat16)
    quant = AutoModelForCausalLM.from_pretrained(str(q), dtype=torch.bfloat16)
    dense = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.bfloat16)
    with torch.no_grad():
        lb = base(text_ids).logits.float()
        lq = quant(text_ids).logits.float()
        ld = dense(text_ids).logits.float()
    if "FP8" not in scheme:  # weight-only: transformers computes with exactly our dequantized weights
        assert torch.equal(lq, ld)
    # Quality against the original: KL divergence and top-1 agreement, per token.
    kld, top1 = kld_and_top1(lb, lq)
    print(f"{scheme}: mean KLD {kld:.4f}, top-1 agreement {top1:.3f}")
    assert kld < max_kld
    assert top1 > 0.6


def test_gptq_and_imatrix_beat_round_to_nearest_on_smollm2(smollm2, text_ids, lowbit, tmp_path):
    """GPTQ (calibrated on the chat set's text, held apart from the WikiText-2 evaluation text) has
    a lower mean KLD to the original than round-to-nearest with the same scheme. (Calibrated on PTB
    valid instead, GPTQ is no better than RTN on WikiText-2 for this model: its late down_proj
    layers see activations in PTB that WikiText does not share; see the notes of issue 9.)"""
    if not CHAT.exists():
        pytest.skip(f"{CHAT} not found (shared data)")
    import json
    from transformers import AutoModelForCausalLM

    calib = tmp_path / "chat.txt"  # the conversations' text (chat-template rendering comes separately)
    with open(CHAT) as f, open(calib, "w") as out:
        for line in f:
            for m in json.loads(line)["messages"]:
                out.write(m["content"] + "\n\n")
    common = ["--scheme", "W4A16", "--group-size", "64", "--ignore", "lm_head", "--progress", "off", "--no-report"]
    lowbit("quantize", smollm2, "-o", tmp_path / "rtn", *common)
    lowbit("quantize", smollm2, "-o", tmp_path / "gptq", *common, "--method", "gptq", "--calib", calib,
           "--samples", "64", "--seq-len", "512")
    lowbit("quantize", smollm2, "-o", tmp_path / "imatrix", *common, "--observer", "imatrix_mse", "--calib", calib,
           "--samples", "32", "--seq-len", "512")
    with torch.no_grad():
        lb = AutoModelForCausalLM.from_pretrained(str(smollm2), dtype=torch.bfloat16)(text_ids).logits.float()
        results = {}
        for name in ("rtn", "gptq", "imatrix"):
            m = AutoModelForCausalLM.from_pretrained(str(tmp_path / name), dtype=torch.bfloat16)
            results[name] = kld_and_top1(lb, m(text_ids).logits.float())
    print("mean KLD, top-1: " + ", ".join(f"{k} {v[0]:.4f} {v[1]:.3f}" for k, v in results.items()))
    assert results["gptq"][0] < results["rtn"][0]
    assert results["imatrix"][0] < results["rtn"][0]  # RTN with the imatrix-weighted clipping search


def test_awq_beats_round_to_nearest_on_smollm2(smollm2, text_ids, lowbit, tmp_path):
    """AWQ (scales searched on the chat set's text and folded into the norms and up_proj) has a lower
    mean KLD to the original than round-to-nearest, and its checkpoint (folded norms written dense)
    loads in transformers and decompresses exactly in compressed-tensors."""
    if not CHAT.exists():
        pytest.skip(f"{CHAT} not found (shared data)")
    import json
    from transformers import AutoModelForCausalLM

    calib = tmp_path / "chat.txt"
    with open(CHAT) as f, open(calib, "w") as out:
        for line in f:
            for m in json.loads(line)["messages"]:
                out.write(m["content"] + "\n\n")
    common = ["--scheme", "W4A16", "--group-size", "64", "--ignore", "lm_head", "--progress", "off", "--no-report"]
    lowbit("quantize", smollm2, "-o", tmp_path / "rtn", *common)
    lowbit("quantize", smollm2, "-o", tmp_path / "awq", *common, "--method", "awq", "--calib", calib,
           "--samples", "4", "--seq-len", "256")  # 1,024 tokens: AWQ's grid costs ~0.1 s per token here
    report = json.loads((tmp_path / "awq" / "quantization_report.json").read_text())
    assert report["method"] == "awq"
    with torch.no_grad():
        lb = AutoModelForCausalLM.from_pretrained(str(smollm2), dtype=torch.bfloat16)(text_ids).logits.float()
        results = {}
        for name in ("rtn", "awq"):
            m = AutoModelForCausalLM.from_pretrained(str(tmp_path / name), dtype=torch.bfloat16)
            results[name] = kld_and_top1(lb, m(text_ids).logits.float())
    print("mean KLD, top-1: " + ", ".join(f"{k} {v[0]:.4f} {v[1]:.3f}" for k, v in results.items()))
    assert results["awq"][0] < results["rtn"][0]
