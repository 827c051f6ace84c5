"""lowbit's tokenizer against Hugging Face `tokenizers` on the whole WikiText-2 test text:
SmolLM2's tokenizer.json, and tokenizer.json files of other pre-tokenizer families that the
real library builds (trained on the PTB text in the test, so nothing is copied)."""
import numpy as np
import pytest

from conftest import ROOT

SHARED = ROOT.parent / "shared" / "data"
WIKITEXT = SHARED / "wikitext-2-raw-test.txt"
PTB = SHARED / "ptb-valid.txt"

# Pre-tokenizer regexes of the Llama-3 and GPT-4o (o200k) families, as their tokenizer.json files write them.
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
          r"|\s+(?!\S)|\s+")


def our_ids(lowbit, tokenizer_json, text_file, tmp_path):
    out = tmp_path / "ids.i32"
    lowbit("tokenize", tokenizer_json, "--file", text_file, "-o", out)
    return np.fromfile(out, dtype=np.int32).tolist()


def test_smollm2_tokenizer_matches_on_wikitext(smollm2, lowbit, tmp_path):
    if not WIKITEXT.exists():
        pytest.skip("shared WikiText-2 text not found")
    from tokenizers import Tokenizer
    ref = Tokenizer.from_file(str(smollm2 / "tokenizer.json")).encode(WIKITEXT.read_text(), add_special_tokens=False).ids
    ours = our_ids(lowbit, smollm2 / "tokenizer.json", WIKITEXT, tmp_path)
    assert len(ours) == len(ref)
    assert ours == ref


def trained(pre_tokenizer, tmp_path, name, ignore_merges=False):
    from tokenizers import Tokenizer, decoders, models, trainers
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=["<|endoftext|>", "<|im_start|>"],
                                  initial_alphabet=__import__("tokenizers").pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(PTB)], trainer)
    path = tmp_path / f"{name}.json"
    tok.save(str(path))
    return tok, path


@pytest.mark.parametrize("family", ["gpt2", "llama3", "digits"])
def test_other_pre_tokenizer_families_match(lowbit, tmp_path, family):
    if not (WIKITEXT.exists() and PTB.exists()):
        pytest.skip("shared text not found")
    from tokenizers import Regex, pre_tokenizers as pt
    if family == "gpt2":
        pre = pt.ByteLevel(add_prefix_space=False, use_regex=True)
    elif family == "llama3":
        pre = pt.Sequence([pt.Split(Regex(LLAMA3), behavior="isolated"), pt.ByteLevel(add_prefix_space=False,
                                                                                      use_regex=False)])
    else:
        pre = pt.Sequence([pt.Digits(individual_digits=True), pt.ByteLevel(add_prefix_space=True, use_regex=True)])
    tok, path = trained(pre, tmp_path, family, ignore_merges=(family == "llama3"))
    text = WIKITEXT.read_text()[:300000] + " <|im_start|>hello<|endoftext|>"
    sample = tmp_path / "sample.txt"
    sample.write_text(text)
    assert our_ids(lowbit, path, sample, tmp_path) == tok.encode(text, add_special_tokens=False).ids


def byte_fallback_tokenizer(tmp_path, name, normalizer, pre_tokenizer, decoder):
    """A SentencePiece-style BPE (byte fallback, fused <unk>) trained by the real library on
    PTB with a small alphabet, so rare WikiText characters fall back to <0xXX> byte tokens."""
    import json
    from tokenizers import Tokenizer, models, pre_tokenizers as pt, trainers
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pt.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)  # training only
    trainer = trainers.BpeTrainer(vocab_size=3000, limit_alphabet=60,
                                  special_tokens=["<unk>", "<s>", "</s>", "<|im_start|>"])
    tok.train([str(PTB)], trainer)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for b in range(256):  # SentencePiece's byte pieces, as Llama-2's vocabulary has them
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    spec["normalizer"], spec["pre_tokenizer"], spec["decoder"] = normalizer, pre_tokenizer, decoder
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(spec, ensure_ascii=False))
    return Tokenizer.from_file(str(path)), path


SP_DECODER = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
# Qwen2's pre-tokenizer regex, as its tokenizer.json writes it.
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)"
         r"|\s+")


@pytest.mark.parametrize("family", ["llama2", "mistral"])
def test_sentencepiece_style_families_match(lowbit, tmp_path, family):
    """Llama-2 (legacy: Prepend + Replace normalizers, no pre-tokenizer, so each segment is
    one BPE word) and Mistral/Llama-2 as newer tokenizers write them (Metaspace, prepend
    only at the start of the text, no split)."""
    if not (WIKITEXT.exists() and PTB.exists()):
        pytest.skip("shared text not found")
    if family == "llama2":
        norm = {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                    {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        pre = None
    else:
        norm = None
        pre = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    tok, path = byte_fallback_tokenizer(tmp_path, family, norm, pre, SP_DECODER)
    # The whole WikiText test text (rare characters fall back to bytes), with special tokens inside.
    text = WIKITEXT.read_text() + " <|im_start|>hello world<s> caf\u00e9 \u2603"
    sample = tmp_path / "sample.txt"
    sample.write_text(text)
    ref = tok.encode(text, add_special_tokens=False).ids
    assert sum(1 for i in ref if tok.id_to_token(i).startswith("<0x")) > 100  # byte fallback is exercised
    assert our_ids(lowbit, path, sample, tmp_path) == ref


def test_qwen2_style_nfc_normalizer_matches(lowbit, tmp_path):
    """Qwen2's layout: NFC normalizer, Split with its regex, ByteLevel without regex."""
    if not (WIKITEXT.exists() and PTB.exists()):
        pytest.skip("shared text not found")
    import json
    from tokenizers import Regex, normalizers, pre_tokenizers as pt
    pre = pt.Sequence([pt.Split(Regex(QWEN2), behavior="isolated"), pt.ByteLevel(add_prefix_space=False,
                                                                                 use_regex=False)])
    tok, path = trained(pre, tmp_path, "qwen2")
    tok.normalizer = normalizers.NFC()
    tok.save(str(path))
    assert json.loads(path.read_text())["normalizer"]["type"] == "NFC"
    # Decomposed accents (e + U+0301, A + U+030A) must compose before tokenization.
    text = WIKITEXT.read_text()[:200000] + " cafe\u0301 \u0041\u030angstro\u0308m \uff21\u00bd <|im_start|>x"
    sample = tmp_path / "sample.txt"
    sample.write_text(text)
    assert our_ids(lowbit, path, sample, tmp_path) == tok.encode(text, add_special_tokens=False).ids
