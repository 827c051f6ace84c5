"""lowbit's perplexity against llama.cpp's own perplexity tool on the same weights.

llama.cpp (the llama-perplexity binary and its HF -> GGUF converter) is built from the
sources that PyPI's llama-cpp-python sdist vendors, by scripts/llama-cpp.sh (cached in
~/.cache/lowbit). The SmolLM2 BF16 folder is converted to a BF16 GGUF with llama.cpp's
converter, so both tools run the same weights; llama.cpp's protocol is the default of
`lowbit eval` (ctx 512, second half of each chunk scored, BOS only if the model adds one).
"""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, to_gguf

WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-raw-test.txt"
CHUNKS = 16


def test_perplexity_matches_llama_cpp_on_smollm2(smollm2, llama_cpp, lowbit, tmp_path):
    if not WIKITEXT.exists():
        pytest.skip(f"{WIKITEXT} not found (shared data)")
    gguf = to_gguf(llama_cpp, smollm2, tmp_path / "smollm2-bf16.gguf")
    proc = subprocess.run([str(llama_cpp / "llama-perplexity"), "-m", str(gguf), "-f", str(WIKITEXT), "-c", "512",
                           "--chunks", str(CHUNKS), "-t", str(os.cpu_count())], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", proc.stdout + proc.stderr)
    assert m, proc.stderr[-4000:]
    ref, ref_err = float(m.group(1)), float(m.group(2))
    report = tmp_path / "eval.json"
    lowbit("eval", smollm2, "--text", WIKITEXT, "--chunks", CHUNKS, "--json", report)
    ours = json.loads(report.read_text())
    assert ours["chunks"] == CHUNKS and ours["tokens_scored"] == CHUNKS * 255
    assert abs(ours["ppl"] - ref) / ref < 0.01, (ours["ppl"], ref)
    assert abs(ours["ppl_stderr"] - ref_err) / ref_err < 0.05, (ours["ppl_stderr"], ref_err)
