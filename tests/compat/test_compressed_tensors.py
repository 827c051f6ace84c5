"""Real clients read what lowbit writes.

For each scheme: (1) the compressed-tensors library validates our quantization_config
and decompresses every quantized module to exactly the weights lowbit's own
dequantizer gives; (2) compressed-tensors, given the original weights, computes the
same scales and zero points and packs the same bytes (bit-exact RTN parity with
llm-compressor); (3) Hugging Face transformers loads the quantized checkpoint on CPU
and its logits equal those of the dense model made from our dequantized weights.
"""
import json

import pytest
import torch
from safetensors.torch import load_file

from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
from compressed_tensors.quantization import QuantizationConfig, QuantizationStrategy
from compressed_tensors.quantization.lifecycle.forward import quantize
from compressed_tensors.quantization.utils.helpers import calculate_qparams

MODELS = {
    "llama": dict(arch="llama", shards=2),
    "qwen2-tied": dict(arch="qwen2", tied=True),
    "qwen3-f16": dict(arch="qwen3", dtype="f16", head_dim=64, heads=4, kv_heads=2),
    "mistral-f32": dict(arch="mistral", dtype="f32"),
}

SCHEMES = {
    "W4A16": ["--scheme", "W4A16"],
    "W4A16_ASYM": ["--scheme", "W4A16_ASYM"],
    "W8A16": ["--scheme", "W8A16"],
    "int8-channel-asym": ["--bits", "8", "--strategy", "channel", "--asymmetric"],
    "int4-tensor-asym": ["--bits", "4", "--strategy", "tensor", "--asymmetric"],
    "int3-g64": ["--bits", "3", "--group-size", "64"],
    "int4-restricted": ["--scheme", "W4A16", "--restricted-range"],
}

CASES = [("llama", s) for s in SCHEMES] + [(m, sc) for m in MODELS if m != "llama" for sc in ("W4A16", "W4A16_ASYM")]


def load_dir(path):
    tensors = {}
    for f in sorted(path.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    return tensors


@pytest.fixture(scope="module")
def checkpoints(tiny_model, lowbit, tmp_path_factory):
    """(model, scheme) -> (original dir, quantized dir, our dequantized dir)."""
    out = tmp_path_factory.mktemp("ckpt")
    cache = {}

    def get(model, scheme):
        key = (model, scheme)
        if key not in cache:
            src = tiny_model(model, **MODELS[model])
            q, d = out / f"{model}-{scheme}", out / f"{model}-{scheme}-dense"
            lowbit("quantize", src, "-o", q, "--ignore", "lm_head", "--max-shard-size", "1MB",
                   "--progress", "off", *SCHEMES[scheme])
            lowbit("dequantize", q, "-o", d)
            cache[key] = (src, q, d)
        return cache[key]
    return get


def quantized_modules(qdir):
    return sorted(k[: -len(".weight_packed")] for k in load_dir(qdir) if k.endswith(".weight_packed"))


@pytest.mark.parametrize("model,scheme", CASES)
def test_compressed_tensors_decompresses_to_our_weights(checkpoints, model, scheme):
    _, qdir, ddir = checkpoints(model, scheme)
    cfg = json.loads((qdir / "config.json").read_text())
    qc = QuantizationConfig.model_validate(cfg["quantization_config"])  # rejects unknown keys
    assert qc.quantization_status == "compressed"
    (scheme_obj,) = qc.config_groups.values()
    q, dense = load_dir(qdir), load_dir(ddir)
    modules = quantized_modules(qdir)
    assert len(modules) == 7 * 2
    for m in modules:
        sd = {k[len(m) + 1:]: v for k, v in q.items() if k.startswith(m + ".")}
        out = PackedQuantizationCompressor.decompress(sd, scheme_obj)
        ours = dense[m + ".weight"]
        assert out["weight"].dtype == ours.dtype
        assert torch.equal(out["weight"], ours), m
    # Everything that is not a quantized Linear is copied bit-exactly.
    orig = load_dir(checkpoints(model, scheme)[0])
    for k, v in orig.items():
        if k in q:
            assert torch.equal(q[k], v), k


def ct_qparams(weight, args):
    """Scales and zero points as llm-compressor's min-max observer computes them."""
    w = weight
    if args.strategy == QuantizationStrategy.GROUP:
        g = w.reshape(w.shape[0], -1, args.group_size)
        mn, mx = g.amin(dim=-1), g.amax(dim=-1)
    elif args.strategy == QuantizationStrategy.CHANNEL:
        mn, mx = w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
    else:
        mn, mx = w.amin().reshape(1), w.amax().reshape(1)
    return calculate_qparams(mn, mx, args)


@pytest.mark.parametrize("model,scheme", [c for c in CASES if c[1] != "int4-restricted"])
def test_compressed_tensors_compresses_to_our_bytes(checkpoints, model, scheme):
    src, qdir, _ = checkpoints(model, scheme)
    cfg = json.loads((qdir / "config.json").read_text())
    (scheme_obj,) = QuantizationConfig.model_validate(cfg["quantization_config"]).config_groups.values()
    args = scheme_obj.weights
    orig, q = load_dir(src), load_dir(qdir)
    for m in quantized_modules(qdir):
        w = orig[m + ".weight"]
        scale, zp = ct_qparams(w, args)
        assert torch.equal(scale, q[m + ".weight_scale"]), m
        codes = quantize(w, scale, zp, args, dtype=torch.int8)
        assert torch.equal(pack_to_int32(codes, args.num_bits), q[m + ".weight_packed"]), m
        assert q[m + ".weight_shape"].tolist() == list(w.shape)
        if not args.symmetric and args.strategy != QuantizationStrategy.TENSOR:
            assert torch.equal(pack_to_int32(zp, args.num_bits, packed_dim=0), q[m + ".weight_zero_point"]), m
        elif not args.symmetric:
            assert torch.equal(zp.to(torch.int8), q[m + ".weight_zero_point"]), m
        else:
            assert m + ".weight_zero_point" not in q


def test_restricted_range_codes_stay_within_plus_minus_seven(checkpoints):
    _, qdir, _ = checkpoints("llama", "int4-restricted")
    q = load_dir(qdir)
    for m in quantized_modules(qdir):
        words = q[m + ".weight_packed"].view(torch.int32)
        nibbles = torch.stack([(words >> (4 * i)) & 0xF for i in range(8)], dim=-1)
        assert int(nibbles.min()) >= 1  # unsigned 1..15 == signed -7..7
        assert int(nibbles.max()) == 15


# transformers 5.24 + compressed-tensors 0.20.1 build the compressed module layout on the
# meta device without packing the zero point ([N, G] instead of [N*b/32, G]), so they
# re-initialise every packed weight_zero_point of an asymmetric pack-quantized checkpoint,
# llm-compressor's own included (vllm-project/llm-compressor#1618). The decompression tests
# above cover asymmetric checkpoints with the library itself; strict xfail tells us when
# the client is fixed.
ASYM_XFAIL = pytest.mark.xfail(strict=True, reason="transformers+compressed-tensors do not load packed "
                               "asymmetric zero points (llm-compressor#1618)")
LOAD_CASES = [("llama", "W4A16"), ("llama", "W8A16"), ("llama", "int3-g64"), ("llama", "int4-restricted"),
              ("qwen2-tied", "W4A16"), ("qwen3-f16", "W4A16"), ("mistral-f32", "W4A16"),
              pytest.param("llama", "W4A16_ASYM", marks=ASYM_XFAIL),
              pytest.param("qwen3-f16", "W4A16_ASYM", marks=ASYM_XFAIL)]


@pytest.mark.parametrize("model,scheme", LOAD_CASES)
def test_transformers_loads_and_logits_match_our_dequantized_model(checkpoints, model, scheme):
    from transformers import AutoModelForCausalLM

    _, qdir, ddir = checkpoints(model, scheme)
    quantized = AutoModelForCausalLM.from_pretrained(str(qdir))
    dense = AutoModelForCausalLM.from_pretrained(str(ddir))
    assert quantized.dtype == dense.dtype
    ids = torch.randint(0, quantized.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = quantized(ids).logits  # the first forward decompresses the packed modules
        b = dense(ids).logits
    dense_sd = dense.state_dict()
    for m in quantized_modules(qdir):
        w = quantized.get_submodule(m).weight
        assert torch.equal(w, dense_sd[m + ".weight"]), m
    assert torch.isfinite(a).all()
    assert torch.equal(a, b)
