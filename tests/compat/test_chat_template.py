"""lowbit's chat-template renderer against transformers' own: every real template in the shared
data, several conversation shapes each, with and without the generation prompt, loaded from a
model folder the way transformers loads it (tokenizer_config.json string or list form, or
chat_template.jinja; special tokens as strings or AddedToken objects). The texts must be
byte-identical; where transformers raises (a template's raise_exception, or a Python error),
lowbit must fail too. Then SmolLM2's own template on the shared chat calibration set gives the
token ids of apply_chat_template(tokenize=True)."""
import json
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT

SHARED = ROOT.parent / "shared" / "data"
TEMPLATES = sorted((SHARED / "chat-templates").glob("*.jinja"))
CHAT_CALIB = SHARED / "chat-calib.jsonl"

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}]

CONVERSATIONS = {
    "user": ([{"role": "user", "content": "Hello there!"}], None),
    "system+user": ([{"role": "system", "content": "You are a terse assistant."},
                     {"role": "user", "content": "What is 2+2?"}], None),
    "multi-turn": ([{"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello! How can I help?"},
                    {"role": "user", "content": "Tell me a joke.\nA short one."}], None),
    "system+multi-turn": ([{"role": "system", "content": "Be kind. /no_think"},
                           {"role": "user", "content": "  Hi  "},
                           {"role": "assistant", "content": "<think>\nThe user greets.\n</think>\n\nHello!"},
                           {"role": "user", "content": "Bye"},
                           {"role": "assistant", "content": "Goodbye."}], None),
    "unicode": ([{"role": "user", "content": "Ünïcödé ✓ 日本語 \u00a0nbsp\u3000 \"quotes\" {{ braces }}"},
                 {"role": "assistant", "content": "D'accord — ok."}], None),
    "tools": ([{"role": "user", "content": "Weather in Paris?"}], TOOLS),
    # Tool calls, their results and reasoning exercise the templates' other branches.
    "tool-calls": ([{"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": None, "tool_calls": [{
                        "id": "call12345", "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
                    {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
                     "content": "{\"temperature\": 21.5}"},
                    {"role": "assistant", "content": "It is 21.5 °C."}], TOOLS),
    "tool-calls-json-args": ([{"role": "user", "content": "Weather?"},
                              {"role": "assistant", "content": "", "tool_calls": [{
                                  "id": "abcdefghi", "type": "function",
                                  "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
                              {"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny"}], None),
    "reasoning": ([{"role": "user", "content": "Why?"},
                   {"role": "assistant", "content": "Because.", "reasoning_content": "Let me think."},
                   {"role": "user", "content": "Sure?"}], None),
}

# Special tokens as the models' tokenizer_config.json files name them (by file-name prefix).
TOKENS = {
    "meta-llama": ("<|begin_of_text|>", "<|eot_id|>"),
    "Qwen": (None, "<|im_end|>"),
    "google": ("<bos>", "<eos>"),
    "Mistral": ("<s>", "</s>"), "mistralai": ("<s>", "</s>"), "unsloth": ("<s>", "</s>"),
    "deepseek": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "llama-cpp-deepseek": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "microsoft": ("<s>", "<|endoftext|>"),
    "HuggingFaceTB": ("<|im_start|>", "<|im_end|>"),
}


def tokens_for(name):
    for prefix in sorted(TOKENS, key=len, reverse=True):
        if name.startswith(prefix):
            return TOKENS[prefix]
    return ("<s>", "</s>")


def model_folder(base, smollm2, template_path, index):
    """A folder holding the template in one of the forms transformers reads (varied by index)."""
    folder = base / template_path.stem
    folder.mkdir()
    shutil.copy(smollm2 / "tokenizer.json", folder / "tokenizer.json")
    cfg = json.loads((smollm2 / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    bos, eos = tokens_for(template_path.name)
    source = template_path.read_text()
    cfg["bos_token"] = bos if index % 2 == 0 or bos is None else {"__type": "AddedToken", "content": bos,
                                                                   "lstrip": False, "rstrip": False,
                                                                   "normalized": False, "special": True}
    cfg["eos_token"] = eos
    form = index % 3
    if form == 0:
        cfg["chat_template"] = source
    elif form == 1:
        cfg["chat_template"] = [{"name": "default", "template": source}, {"name": "rag", "template": "unused"}]
    else:
        (folder / "chat_template.jinja").write_text(source)
        cfg["chat_template"] = "ignored: chat_template.jinja takes priority"
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    return folder


def ours(folder, jsonl, add_generation_prompt):
    args = [str(BUILD / "lowbit"), "tokenize", str(folder), "--chat", str(jsonl), "--print-text"]
    if add_generation_prompt:
        args.append("--add-generation-prompt")
    return subprocess.run(args, capture_output=True, text=True)


@pytest.mark.skipif(not TEMPLATES, reason="shared chat templates not found")
@pytest.mark.parametrize("template", TEMPLATES, ids=[t.stem for t in TEMPLATES])
def test_template_renders_as_transformers(template, smollm2, tmp_path):
    from jinja2.exceptions import TemplateError
    from transformers import AutoTokenizer
    index = TEMPLATES.index(template)
    folder = model_folder(tmp_path, smollm2, template, index)
    tok = AutoTokenizer.from_pretrained(str(folder))
    rendered = refused = 0
    for shape, (messages, tools) in CONVERSATIONS.items():
        jsonl = tmp_path / f"{shape}.jsonl"
        jsonl.write_text(json.dumps({"messages": messages, **({"tools": tools} if tools else {})}) + "\n")
        for agp in (False, True):
            where = f"{template.name}, {shape}, add_generation_prompt={agp}"
            try:
                expected = tok.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=agp)
            except Exception as e:  # the template rejects this conversation: lowbit must too
                got = ours(folder, jsonl, agp)
                assert got.returncode == 2, f"{where}: transformers raised {e!r}, lowbit printed {got.stdout!r}"
                assert got.stderr.startswith("error: "), where
                if type(e) is TemplateError:  # raise_exception() (its subclasses are Jinja's own errors)
                    assert f"the template raised an error: {e}" in got.stderr, f"{where}: {got.stderr}"
                refused += 1
                continue
            got = ours(folder, jsonl, agp)
            assert got.returncode == 0, f"{where}: {got.stderr}"
            assert got.stdout[:-1] == expected, where  # each conversation is followed by one newline
            rendered += 1
    # Only shapes the template itself refuses are skipped; most must render.
    assert rendered >= 6 and rendered > refused, (rendered, refused)


@pytest.mark.skipif(not CHAT_CALIB.exists(), reason="shared chat calibration set not found")
def test_smollm2_chat_calibration_ids_match_apply_chat_template(smollm2, lowbit, tmp_path):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(smollm2))
    lines = [json.loads(line) for line in CHAT_CALIB.read_text().splitlines() if line.strip()]
    assert len(lines) == 547
    ids = [[int(x) for x in row.split(",")] for row in lowbit("tokenize", smollm2, "--chat", CHAT_CALIB).splitlines()]
    assert len(ids) == len(lines)
    for n, (record, got) in enumerate(zip(lines, ids), 1):
        expected = tok.apply_chat_template(record["messages"], tokenize=True, return_dict=False)
        assert got == expected, f"chat-calib.jsonl:{n}"
    # With the generation prompt too, on the first conversations.
    head = tmp_path / "head.jsonl"
    head.write_text("".join(json.dumps(r) + "\n" for r in lines[:20]))
    rows = lowbit("tokenize", smollm2, "--chat", head, "--add-generation-prompt").splitlines()
    for record, row in zip(lines[:20], rows):
        expected = tok.apply_chat_template(record["messages"], tokenize=True, add_generation_prompt=True,
                                           return_dict=False)
        assert [int(x) for x in row.split(",")] == expected
