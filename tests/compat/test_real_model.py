"""A real model end to end: SmolLM2-135M-Instruct (see tests/fixtures/smollm2.py), quantized
by lowbit, loaded by transformers on CPU, and compared with the original on WikiText-2 text.
"""
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-raw-test.txt"


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
    kld = torch.nn.functional.kl_div(lq.log_softmax(-1), lb.log_softmax(-1), log_target=True,
                                     reduction="none").sum(-1).mean().item()
    top1 = (lq.argmax(-1) == lb.argmax(-1)).float().mean().item()
    print(f"{scheme}: mean KLD {kld:.4f}, top-1 agreement {top1:.3f}")
    assert kld < max_kld
    assert top1 > 0.6
