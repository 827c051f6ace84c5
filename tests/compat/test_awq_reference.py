"""lowbit's AWQ scale search against llm-compressor's own (0.14.0.1 AWQModifier, its hooks,
_apply_smoothing and _compute_best_scale run unchanged; see awq_reference.py) on SmolLM2's first
decoder layer with the same calibration tokens.

The grid search is ill-conditioned, so the test cannot ask for bit-equal choices: with int4
symmetric groups the largest weight of a group lands on |w|/scale = 7.5 exactly or one ulp off,
which rounds its code to -8 or -7 when it is negative, so a change of the scales s at the 1e-7
level (float32 sums of |x| taken in another order) moves a candidate's loss by a few percent
(measured: up to 3.3 % on this layer; the curve itself is jagged). What it asserts:
- the candidates whose scales do not depend on the activation means (the identity, and duo
  scaling at ratio 0: s from the weights alone) have the same loss within 1e-5: the same parents,
  inputs, quantizer and loss;
- every other candidate's loss is within 6 % of llm-compressor's;
- each side's pick is within 2 % of the other side's best under the other side's losses (on this
  layer two of the three mappings pick the same ratio).

The model is SmolLM2 cut to two layers and stored in float32, so that both sides compute the
same thing in the same precision: Q(W s)/s and the parents' outputs in float32, differing only
in the order of sums. Layer 1 is left unquantized, so only layer 0 is searched.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

HERE = Path(__file__).resolve().parent
PTB = ROOT.parent / "shared" / "data" / "ptb-valid.txt"
REF = Path(sys.prefix) / "reference" / "llmcompressor-0.14.0.1" / "llmcompressor" / "modifiers" / "transform"
SAMPLES, SEQ_LEN, GROUP = 8, 128, 64


@pytest.fixture(scope="module")
def two_layer_f32(smollm2, tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM
    out = tmp_path_factory.mktemp("smollm2-2l-f32")
    model = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32, num_hidden_layers=2)
    model.save_pretrained(out)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(smollm2 / f, out / f)
    return out


def calibration_text(tokenizer_json, tmp_path):
    """PTB lines until the text holds SAMPLES windows of SEQ_LEN tokens and less than one more,
    so lowbit draws every window (in its shuffled order, which the sums do not see)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_json))
    lines, text = PTB.read_text().splitlines(keepends=True), ""
    for line in lines:
        text += line
        ids = tok.encode(text, add_special_tokens=False).ids
        if len(ids) >= SAMPLES * SEQ_LEN:
            break
    assert SAMPLES * SEQ_LEN <= len(ids) < (SAMPLES + 1) * SEQ_LEN
    (tmp_path / "calib.txt").write_text(text)
    np.save(tmp_path / "ids.npy", np.array(ids[:SAMPLES * SEQ_LEN], dtype=np.int64).reshape(SAMPLES, SEQ_LEN))
    return tmp_path / "calib.txt", tmp_path / "ids.npy"


def test_same_ratios_as_llm_compressor(two_layer_f32, lowbit, tmp_path):
    if not (REF / "awq" / "base.py").exists():
        pytest.skip(f"{REF} not unpacked (scripts/compat-venv.sh)")
    if not PTB.exists():
        pytest.skip("shared PTB text not found")
    calib, ids = calibration_text(two_layer_f32 / "tokenizer.json", tmp_path)
    lowbit("quantize", two_layer_f32, "-o", tmp_path / "awq", "--scheme", "W4A16", "--group-size", GROUP,
           "--method", "awq", "--calib", calib, "--samples", SAMPLES, "--seq-len", SEQ_LEN, "--ignore", "lm_head",
           "--ignore", r"re:model\.layers\.1\..*", "--progress", "off", "--no-report")
    report = json.loads((tmp_path / "awq" / "quantization_report.json").read_text())
    assert report["calibration"]["samples"] == SAMPLES and report["calibration"]["tokens"] == SAMPLES * SEQ_LEN
    ours = {m["smooth_layer"]: m for m in report["awq"]["mappings"]}

    proc = subprocess.run([sys.executable, str(HERE / "awq_reference.py"), str(two_layer_f32), str(ids), str(GROUP),
                           str(tmp_path / "theirs.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    theirs = json.loads((tmp_path / "theirs.json").read_text())

    # SmolLM2 has grouped-query attention (9 heads, 3 KV heads): both skip v_proj -> o_proj.
    assert sorted(theirs) == sorted(ours) == ["model.layers.0.input_layernorm", "model.layers.0.mlp.up_proj",
                                              "model.layers.0.post_attention_layernorm"]
    grid = [(0.0, False)] + [(i / 18, True) for i in range(19)]  # duo_scaling true, n_grid 20
    for name, t in theirs.items():
        o = ours[name]
        lo, lt = o["losses"], t["losses"]
        assert len(lo) == len(lt) == len(grid), name
        assert lo[:2] == pytest.approx(lt[:2], rel=1e-5), name
        assert lo == pytest.approx(lt, rel=0.06), name
        pick_o = grid.index((pytest.approx(o["ratio"], abs=1e-12), o["duo_scaling"]))
        pick_t = grid.index((pytest.approx(t["ratio"], abs=1e-12), t["duo_scaling"]))
        assert lt[pick_o] <= 1.02 * min(lt), name
        assert lo[pick_t] <= 1.02 * min(lo), name
        assert o["best_error"] == min(lo) and o["initial_error"] == lo[0], name
        assert o["best_error"] < o["initial_error"], name  # the search found something better than no scaling
