"""One llm-compressor 0.14.0.1 job for bench/gptq_awq_vs_llm_compressor.sh: W4A16 (int4 symmetric,
group G, lm_head kept) by GPTQ, AWQ or round-to-nearest on the calibration samples of an
input_ids JSONL file (the very tokens lowbit reads), saved compressed. Runs on the CPU.

    python llm_compressor_run.py MODEL IDS.jsonl OUT --method gptq|awq|rtn [--group 64] [--threads 2]
"""
import argparse
import json

import torch

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("ids")
ap.add_argument("out")
ap.add_argument("--method", required=True, choices=["gptq", "awq", "rtn"])
ap.add_argument("--group", type=int, default=64)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
# llm-compressor's AWQ activation cache calls pin_memory(), which needs a GPU driver: on a
# CPU-only machine it crashes. Pinning is only a transfer optimisation, so it is made a no-op.
torch.Tensor.pin_memory = lambda self, *args, **kwargs: self

from datasets import Dataset  # noqa: E402
from llmcompressor import oneshot  # noqa: E402
from llmcompressor.modifiers.awq import AWQModifier  # noqa: E402
from llmcompressor.modifiers.gptq import GPTQModifier  # noqa: E402
from llmcompressor.modifiers.quantization import QuantizationModifier  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

ids = [json.loads(line)["input_ids"] for line in open(a.ids) if line.strip()]
data = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]})
groups = {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int", "symmetric": True,
                                                          "strategy": "group", "group_size": a.group}}}
modifier = {"gptq": GPTQModifier, "awq": AWQModifier, "rtn": QuantizationModifier}[a.method]
recipe = modifier(config_groups=groups, ignore=["lm_head"])
model = AutoModelForCausalLM.from_pretrained(a.model, dtype="auto")
tok = AutoTokenizer.from_pretrained(a.model)
kw = {} if a.method == "rtn" else dict(dataset=data, num_calibration_samples=len(ids),
                                        max_seq_length=max(len(x) for x in ids), shuffle_calibration_samples=False)
oneshot(model=model, recipe=recipe, **kw)
model.save_pretrained(a.out, save_compressed=True)
tok.save_pretrained(a.out)
