"""lowbit's GPTQ solver against llm-compressor's own (0.14.0.1, `quantize_weight` in
modifiers/gptq/gptq_quantize.py) on the same weight, Hessian and observer scales: the same codes on
>= 99.9 % of the weights and the same loss within 1e-4 relative.

llm-compressor's package pins older transformers and compressed-tensors than the test environment,
so scripts/compat-venv.sh unpacks only its files (no dependencies) and this test loads the two
solver modules directly, without the package's heavy __init__.
"""
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import BUILD

REF = Path(sys.prefix) / "reference" / "llmcompressor-0.14.0.1" / "llmcompressor"


@pytest.fixture(scope="module")
def llmc_gptq():
    if not (REF / "modifiers" / "gptq" / "gptq_quantize.py").exists():
        pytest.skip(f"{REF} not unpacked (scripts/compat-venv.sh)")
    for name, path in [("llmcompressor", REF), ("llmcompressor.modifiers", REF / "modifiers"),
                       ("llmcompressor.modifiers.gptq", REF / "modifiers" / "gptq")]:
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [str(path)]
            sys.modules[name] = m

    def load(name, file):
        spec = importlib.util.spec_from_file_location(name, file)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    load("llmcompressor.modifiers.gptq.helpers", REF / "modifiers" / "gptq" / "helpers.py")
    return load("llmcompressor.modifiers.gptq.gptq_quantize", REF / "modifiers" / "gptq" / "gptq_quantize.py")


def problem(rows, cols, seed):
    """A BF16 weight and the Hessian of correlated, unevenly scaled inputs."""
    g = torch.Generator().manual_seed(seed)
    w = (torch.randn(rows, cols, generator=g) * 0.05).to(torch.bfloat16)
    mix = torch.randn(cols, cols, generator=g) * 0.3 + torch.diag(1 + torch.arange(cols) % 7).float()
    x = torch.randn(4 * cols, cols, generator=g) @ mix.T
    h = (2 * x.T @ x / x.shape[0]).float().contiguous()
    return w, h


def observer_qparams(w, args):
    """memoryless_minmax on the original weight, as GPTQModifier's observer computes them."""
    from compressed_tensors.quantization.utils import calculate_qparams
    g = w.reshape(w.shape[0], -1, args.group_size)
    return calculate_qparams(g.amin(dim=-1), g.amax(dim=-1), args)


@pytest.mark.parametrize("actorder", [None, "static", "weight"])
@pytest.mark.parametrize("group", [32, 64, 128])
@pytest.mark.parametrize("symmetric", [True, False])
def test_same_codes_and_loss_as_llm_compressor(llmc_gptq, tmp_path, actorder, group, symmetric):
    from compressed_tensors.quantization import QuantizationArgs

    rows, cols = 64, 384  # three 128-column blocks
    w, h = problem(rows, cols, seed=group + (actorder is None) + 7 * symmetric)
    args = QuantizationArgs(num_bits=4, type="int", symmetric=symmetric, strategy="group", group_size=group,
                            actorder=actorder)
    scale, zp = observer_qparams(w, args)
    q, loss, fallback = llmc_gptq.quantize_weight(w[None].clone(), h[None].clone(), scale[None], zp[None], None,
                                                  args, blocksize=128, percdamp=0.01)
    assert not fallback.any()
    s = scale.float().repeat_interleave(group, dim=1)
    z = zp.float().repeat_interleave(group, dim=1)
    theirs = torch.round(q[0].float() / s + z).to(torch.int8)  # the signed codes behind their QDQ weight

    save_file({"weight": w, "hessian": h}, str(tmp_path / "in.safetensors"))
    cmd = [str(BUILD / "gptq-solve"), str(tmp_path / "in.safetensors"), str(tmp_path / "out.safetensors"),
           "--bits", "4", "--group-size", str(group), "--actorder", actorder or "none"]
    if not symmetric:
        cmd.append("--asymmetric")
    subprocess.run(cmd, check=True, capture_output=True)
    out = load_file(str(tmp_path / "out.safetensors"))
    ours = out["codes"]
    assert torch.equal(out["scales"], scale.to(out["scales"].dtype))  # the same observer scales
    same = (ours == theirs).float().mean().item()
    print(f"actorder {actorder} group {group} sym {symmetric}: same codes {same:.5f}, "
          f"loss ours {out['loss'].item():.6g} theirs {loss.item():.6g}")
    assert same >= 0.999
    assert abs(out["loss"].item() - loss.item()) <= 1e-4 * loss.item()
