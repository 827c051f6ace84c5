"""`lowbit eval --prompts` on SmolLM2-135M-Instruct against transformers.

Chat prompts are rendered by transformers' apply_chat_template(add_generation_prompt=True) and
tokenized as is (no special tokens added); the greedy answer is transformers' generate(do_sample=
False) stopped at generation_config's EOS, float32. lowbit's rendering must be the same text, its
answers the same tokens (compared as their decoded text, EOS left out). Choices are scored as
lm-eval's loglikelihood: prompt + choice tokenized together, the tokens after those of the prompt
alone summed; lowbit prints each sum, which must equal the reference's within 1e-3 nats. The base's
greedy continuation's teacher-forced log-prob (the model against itself) is checked too, to 1e-3.
"""
import json
import re

import pytest
import torch

TOL = 1e-3
MAX_TOKENS = 20

PROMPTS = [
    {"id": "capital", "messages": [{"role": "user", "content": "What is the capital of France?"}],
     "contains": "Paris", "max_tokens": MAX_TOKENS},
    {"id": "colors", "messages": [{"role": "system", "content": "You answer briefly."},
                                  {"role": "user", "content": "Name three primary colors."}],
     "max_tokens": MAX_TOKENS},
    {"id": "math", "messages": [{"role": "user", "content": "What is 2 + 2?"}], "regex": r"\b4\b",
     "max_tokens": MAX_TOKENS},
    {"id": "plain", "prompt": "The largest planet in the solar system is", "max_tokens": MAX_TOKENS},
    {"id": "mc-chat", "messages": [{"role": "user", "content": "Is the sky blue on a clear day? Answer yes or no."}],
     "choices": ["Yes", "No"], "answer": "Yes"},
    {"id": "mc-plain", "prompt": "Question: Which animal barks?\nAnswer:", "choices": [" a dog", " a cat", " a fish"],
     "answer": 0},
]


def test_custom_eval_matches_transformers(smollm2, lowbit, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(2)
    prompts = tmp_path / "evals.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    report = tmp_path / "r.json"
    out = lowbit("eval", smollm2, "--base", smollm2, "--prompts", prompts, "--threads", 2, "--json", report)
    custom = json.loads(report.read_text())["custom"]
    items = {it["id"]: it for it in custom["items"]}
    assert custom["regressions"] == [] and custom["same_output"] == 1.0

    tok = AutoTokenizer.from_pretrained(smollm2)
    model = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32).eval()
    eos = model.generation_config.eos_token_id

    def text_of(p):
        if "messages" in p:
            return tok.apply_chat_template(p["messages"], add_generation_prompt=True, tokenize=False)
        return p["prompt"]

    def logprobs(ids):
        with torch.no_grad():
            return torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)

    # Each choice's log-likelihood as printed, this model's line (the base's is the same model).
    printed = {}
    for pid, line in re.findall(r"^  (\S+) .*\n    model choices:(.*) \(log-likelihoods", out, re.M):
        printed[pid] = [float(x) for x in line.split()]

    for p in PROMPTS:
        it = items[p["id"]]
        text = text_of(p)
        assert it["prompt"] == text
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if "choices" in p:
            ref = []
            for c in p["choices"]:
                whole = tok(text + c, add_special_tokens=False)["input_ids"]
                lp = logprobs(whole)
                ref.append(sum(lp[i - 1, whole[i]].item() for i in range(len(ids), len(whole))))
            assert printed[p["id"]] == pytest.approx(ref, abs=TOL), p["id"]
            print(f"{p['id']}: choices {printed[p['id']]} (transformers {[round(x, 6) for x in ref]})")
            assert it["output"] == p["choices"][max(range(len(ref)), key=ref.__getitem__)]
            continue
        with torch.no_grad():
            gen = model.generate(torch.tensor([ids]), max_new_tokens=p["max_tokens"], do_sample=False,
                                 eos_token_id=eos, pad_token_id=eos)[0, len(ids):].tolist()
        answer = gen[:-1] if gen and gen[-1] in ([eos] if isinstance(eos, int) else eos) else gen
        assert it["output"] == tok.decode(answer), p["id"]
        lp = logprobs(ids + gen)
        ref_lp = sum(lp[len(ids) + i - 1, t].item() for i, t in enumerate(gen))
        got = it["base_continuation_logprob"]
        assert got["model"] == got["base"]
        assert got["model"] == pytest.approx(ref_lp, abs=TOL), p["id"]
        print(f"{p['id']}: {len(gen)} tokens, log-prob {got['model']:.5f} (transformers {ref_lp:.5f}), "
              f"output {it['output']!r}")
    assert items["capital"]["pass"] is True and items["math"]["pass"] is not None
