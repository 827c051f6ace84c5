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

from conftest import CALIBRATED, FOLDED, MODELS, SCHEMES
from compressed_tensors.compressors import BaseCompressor
from compressed_tensors.quantization import QuantizationConfig, QuantizationStrategy
from compressed_tensors.quantization.utils.helpers import calculate_qparams, generate_gparam

CASES = ([("llama", s) for s in SCHEMES] +
         [(m, sc) for m in MODELS if m != "llama" for sc in ("W4A16", "W4A16_ASYM", "FP8_DYNAMIC", "NVFP4A16")])
FP4_FORMATS = ("mxfp4-pack-quantized", "nvfp4-pack-quantized")


def load_dir(path):
    tensors = {}
    for f in sorted(path.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    return tensors


def quantized_modules(qdir):
    return sorted(k[: -len(".weight_scale")] for k in load_dir(qdir) if k.endswith(".weight_scale"))


def config_of(qdir):
    cfg = json.loads((qdir / "config.json").read_text())
    qc = QuantizationConfig.model_validate(cfg["quantization_config"])  # rejects unknown keys
    (scheme,) = qc.config_groups.values()
    return qc, scheme, BaseCompressor.get_value_from_registry(scheme.format)


def module_state(tensors, m):
    return {k[len(m) + 1:]: v for k, v in tensors.items() if k.startswith(m + ".")}


@pytest.mark.parametrize("model,scheme", CASES)
def test_compressed_tensors_decompresses_to_our_weights(checkpoints, model, scheme):
    src, qdir, ddir = checkpoints(model, scheme)
    qc, scheme_obj, compressor = config_of(qdir)
    assert qc.quantization_status == "compressed"
    q, dense, orig = load_dir(qdir), load_dir(ddir), load_dir(src)
    modules = quantized_modules(qdir)
    assert len(modules) == 7 * 2
    for m in modules:
        out = compressor.decompress(module_state(q, m), scheme_obj)
        ours = dense[m + ".weight"]
        assert out["weight"].dtype == ours.dtype
        assert torch.equal(out["weight"], ours), m
        if scheme in FOLDED:
            continue  # AWQ scaled the weight's columns: it is not close to the original by design
        # And it is close to the original weight (a sanity bound per format).
        w = orig[m + ".weight"].float()
        rel = ((w - ours.float()).norm() / w.norm()).item()
        a = scheme_obj.weights
        bound = 1.0 if a.strategy == QuantizationStrategy.TENSOR and a.num_bits == 4 else \
            0.5 if a.num_bits <= 3 else 0.25 if a.num_bits == 4 else 0.1
        if scheme in CALIBRATED:
            bound *= 1.6  # GPTQ trades weight error for output error (the tiny model's inputs are random)
        assert rel < bound, (m, rel)
    # Everything that is not a quantized Linear is copied bit-exactly (AWQ: but the folded norms).
    for k, v in orig.items():
        if scheme in FOLDED and k.endswith("layernorm.weight"):
            assert k in q and q[k].dtype == v.dtype and not torch.equal(q[k], v), k
            continue
        if k in q and not k.rsplit(".", 1)[0] in modules:
            assert torch.equal(q[k], v), k


FUSED = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))


def ct_minmax(weight, args):
    """Per-slot min/max as llm-compressor's min-max observer sees the weight."""
    w = weight
    if args.strategy in (QuantizationStrategy.GROUP, QuantizationStrategy.TENSOR_GROUP):
        g = w.reshape(w.shape[0], -1, args.group_size)
        return g.amin(dim=-1), g.amax(dim=-1)
    if args.strategy == QuantizationStrategy.CHANNEL:
        return w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
    if args.strategy == QuantizationStrategy.BLOCK:
        bh, bw = args.block_structure
        n, k = w.shape
        pad = torch.zeros(-(-n // bh) * bh, k, dtype=w.dtype)
        pad[:n] = w
        b = pad.reshape(-1, bh, k // bw, bw)
        return b.amin(dim=(1, 3)), b.amax(dim=(1, 3))
    return w.amin().reshape(1), w.amax().reshape(1)


def fused_members(m, modules):
    parent, name = m.rsplit(".", 1)
    for group in FUSED:
        if name in group:
            return [f"{parent}.{g}" for g in group if f"{parent}.{g}" in modules]
    return [m]


# Byte parity with compressed-tensors' own quantizer holds for round-to-nearest; GPTQ's codes
# come from its error feedback (checked against compressed-tensors' decompressor above).
@pytest.mark.parametrize("model,scheme", [c for c in CASES if c[1] != "int4-restricted" and c[1] not in CALIBRATED])
def test_compressed_tensors_compresses_to_our_bytes(checkpoints, model, scheme):
    """compressed-tensors quantizes and packs the original weights into exactly our tensors."""
    src, qdir, _ = checkpoints(model, scheme)
    _, scheme_obj, compressor = config_of(qdir)
    args = scheme_obj.weights
    orig, q = load_dir(src), load_dir(qdir)
    modules = quantized_modules(qdir)
    for m in modules:
        w = orig[m + ".weight"]
        mn, mx = ct_minmax(w, args)
        state = {"weight": w}
        if args.strategy == QuantizationStrategy.TENSOR_GROUP:
            # NVFP4: one global scale for the members vLLM fuses (q/k/v, gate/up).
            members = [orig[x + ".weight"] for x in fused_members(m, modules)]
            gmin = torch.stack([x.amin() for x in members]).amin()
            gmax = torch.stack([x.amax() for x in members]).amax()
            state["weight_global_scale"] = generate_gparam(gmin, gmax)
            scale, zp = calculate_qparams(mn, mx, args, global_scale=state["weight_global_scale"])
        else:
            scale, zp = calculate_qparams(mn, mx, args)
        state["weight_scale"] = scale
        state["weight_zero_point"] = zp
        ct = compressor.compress(state, scheme_obj)
        ours = module_state(q, m)
        ours.pop("bias", None)  # copied as it is, not part of compression
        assert set(ct) == set(ours), m
        for k, v in ct.items():
            a, b = v, ours[k]
            assert a.dtype == b.dtype and a.shape == b.shape, (m, k, a.dtype, b.dtype, a.shape, b.shape)
            if a.dtype in (torch.float8_e4m3fn,):
                a, b = a.view(torch.uint8), b.view(torch.uint8)
            assert torch.equal(a, b), (m, k)


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
LOAD_CASES = [("llama", "W4A16"), ("llama", "GPTQ-W4A16"), ("qwen2-tied", "GPTQ-NVFP4A16"),
              ("llama", "GPTQ-imatrix_mse"), ("llama", "AWQ-W4A16"), ("qwen2-tied", "AWQ-GPTQ-NVFP4A16"),
              ("llama", "W8A16"), ("llama", "int3-g64"), ("llama", "int4-restricted"),
              ("llama", "W8A8"), ("llama", "FP8_DYNAMIC"), ("llama", "FP8_BLOCK"), ("llama", "MXFP8"),
              ("llama", "MXFP4"), ("llama", "NVFP4A16"),
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
    _, scheme_obj, _ = config_of(qdir)
    acts = scheme_obj.input_activations
    if acts is None:
        assert torch.equal(a, b)
    else:
        # transformers also fake-quantizes the activations (dynamic per token / group),
        # which our dense reference does not: the logits differ by that error alone.
        rel = ((a.float() - b.float()).norm() / b.float().norm()).item()
        assert rel < (0.5 if acts.num_bits == 4 else 0.1), rel
