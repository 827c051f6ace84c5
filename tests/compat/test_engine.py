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
