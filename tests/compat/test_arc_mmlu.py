"""ARC and MMLU as lm-evaluation-harness scores them, against transformers on SmolLM2-135M.

The prompts are built here from the raw files as lm-eval's task YAMLs define them (arc_easy /
arc_challenge: "Question: {stem}\\nAnswer:" and " {choice}"; mmlu: the subject's description, 0 or
5 dev examples each followed by " {letter}\\n\\n", then "{question}\\nA. ..\\nD. ..\\nAnswer:" and
" A".." D"). lm-eval's HF model tokenizes context + continuation together and scores the tokens
after those of the context alone, without BOS (SmolLM2 adds none); the same is done here with the
float32 model (the context run once, each continuation on a copy of its KV cache). lowbit's per-choice sums must equal these to 1e-3 nats and
its picks (acc, and acc_norm for ARC) must be the reference's, but for ties closer than that.
"""
import copy
import csv
import json
import time
from pathlib import Path

import pytest

from conftest import ROOT

DATA = ROOT.parent / "shared" / "data" / "benchmarks"
TOL = 1e-3
# Items per benchmark: 50 each (and 6 5-shot) passed once (342 s on a loaded 2-core machine); the
# tier runs fewer for its time budget.
ITEMS = 20


@pytest.fixture(scope="module")
def reference(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(smollm2)
    model = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32).eval()

    def logsoftmax(ids, past=None):
        with torch.no_grad():
            out = model(torch.tensor([ids]), past_key_values=past, use_cache=True)
        return torch.log_softmax(out.logits[0].double(), -1), out.past_key_values

    def loglikelihoods(context, continuations):
        """lm-eval's loglikelihood of each continuation after the context. The context runs once;
        each continuation then runs on a copy of its KV cache (or whole, when its tokens do not
        start with the context's)."""
        # lm-eval's _encode_pair: trailing spaces of the context move to the continuation.
        spaces = len(context) - len(context.rstrip(" "))
        if spaces:
            continuations = [context[-spaces:] + c for c in continuations]
            context = context[:-spaces]
        ctx = tok(context, add_special_tokens=False)["input_ids"]
        ctx_lp, ctx_past = logsoftmax(ctx)
        out = []
        for cont in continuations:
            whole = tok(context + cont, add_special_tokens=False)["input_ids"]
            rest = whole[len(ctx):]
            if whole[:len(ctx)] == ctx:
                total = ctx_lp[-1, rest[0]].item()
                if len(rest) > 1:
                    lp, _ = logsoftmax(rest[:-1], copy.deepcopy(ctx_past))
                    total += sum(lp[i, rest[i + 1]].item() for i in range(len(rest) - 1))
            else:
                lp, _ = logsoftmax(whole)
                total = sum(lp[p - 1, whole[p]].item() for p in range(len(ctx), len(whole)))
            out.append(total)
        return out

    return loglikelihoods


def ours(lowbit, smollm2, task, limit, tmp_path):
    report = tmp_path / "report.json"
    start = time.time()
    lowbit("eval", smollm2, "--task", task, "--limit", limit, "--data", DATA, "--threads", 2, "--json", report)
    print(f"\nlowbit {task} --limit {limit}: {time.time() - start:.1f} s")
    run = json.loads(report.read_text())["benchmarks"][task]
    assert len(run["per_task"]) == limit
    return run


def check(run, prompts, loglikelihoods, metrics):
    """prompts[index] = (context, choices, gold)."""
    for t in run["per_task"]:
        context, choices, gold = prompts[t["index"]]
        assert t["gold"] == gold, t["index"]
        ref = loglikelihoods(context, [" " + c for c in choices])
        assert len(t["logprob"]) == len(ref)
        for s, (got, want) in enumerate(zip(t["logprob"], ref)):
            assert abs(got - want) < TOL, (t["index"], s, got, want)
        scores = {"acc": ref, "acc_norm": [r / len(c) for r, c in zip(ref, choices)]}
        for m in metrics:
            best = max(range(len(ref)), key=lambda i: scores[m][i])
            if t[m] != best:  # only a tie within the tolerance may go either way
                assert abs(scores[m][t[m]] - scores[m][best]) < 2 * TOL, (t["index"], m, scores[m])
    correct = sum(t["acc"] == t["gold"] for t in run["per_task"])
    assert run["metrics"]["acc"]["correct"] == correct


def arc_prompts(name):
    data = DATA / "arc" / f"ARC-{name}-Test.jsonl"
    if not data.exists():
        pytest.skip(f"{data} not found (shared data)")
    prompts = []
    for line in data.read_text().splitlines():
        if line:
            j = json.loads(line)
            labels = [c["label"] for c in j["question"]["choices"]]
            prompts.append((f"Question: {j['question']['stem']}\nAnswer:",
                            [c["text"] for c in j["question"]["choices"]], labels.index(j["answerKey"])))
    return prompts


def mmlu_prompts(shots):
    root = DATA / "mmlu"
    if not (root / "test").is_dir():
        pytest.skip(f"{root} not found (shared data)")

    def rows(path):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.reader(f))

    def question(r):
        return f"{r[0].strip()}\nA. {r[1]}\nB. {r[2]}\nC. {r[3]}\nD. {r[4]}\nAnswer:"

    prompts = []
    for test in sorted((root / "test").glob("*_test.csv")):
        subject = test.name[:-len("_test.csv")]
        prefix = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
        for r in rows(root / "dev" / f"{subject}_dev.csv")[:shots]:
            prefix += question(r) + " " + r[5] + "\n\n"
        for r in rows(test):
            prompts.append((prefix + question(r), ["A", "B", "C", "D"], "ABCD".index(r[5])))
    return prompts


@pytest.mark.parametrize("name", ["Easy", "Challenge"])
def test_arc_matches_transformers(name, smollm2, lowbit, reference, tmp_path):
    prompts = arc_prompts(name)
    run = ours(lowbit, smollm2, f"arc-{name.lower()}", ITEMS, tmp_path)
    assert run["file_tasks"] == len(prompts)
    check(run, prompts, reference, ["acc", "acc_norm"])


@pytest.mark.parametrize("shots,limit", [(0, ITEMS), (5, 4)])
def test_mmlu_matches_transformers(shots, limit, smollm2, lowbit, reference, tmp_path):
    prompts = mmlu_prompts(shots)
    assert len(prompts) == 14042
    run = ours(lowbit, smollm2, "mmlu:5shot" if shots else "mmlu", limit, tmp_path)
    assert run["file_tasks"] == len(prompts)
    check(run, prompts, reference, ["acc"])
    # lm-eval's mmlu number weights subjects by size: the accuracy over all questions.
    subjects = run["subjects"]
    assert sum(s["tasks"] for s in subjects.values()) == limit
    assert sum(s["correct"] for s in subjects.values()) == run["metrics"]["acc"]["correct"]
    assert abs(run["macro_acc"] - sum(s["acc"] for s in subjects.values()) / len(subjects)) < 1e-12
