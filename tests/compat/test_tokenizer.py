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
