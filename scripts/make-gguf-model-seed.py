"""Writes fuzz/corpus/gguf_model/llama-1layer.gguf: a 1-layer llama GGUF (hidden 8, 2 heads, 1 KV
head, an 8-token byte-level BPE vocabulary with 3 merges and a special token, a chat template), under
libFuzzer's 4 KB input limit in scripts/fuzz.sh, so the fuzzer starts from a model lowbit reads.
Run with gguf-py on the path: PYTHONPATH=$(scripts/llama-cpp.sh)/../gguf-py python3 scripts/make-gguf-model-seed.py
"""
import pathlib

import gguf
import numpy as np

out = pathlib.Path(__file__).resolve().parent.parent / "fuzz" / "corpus" / "gguf_model" / "llama-1layer.gguf"
out.parent.mkdir(parents=True, exist_ok=True)


# A vocabulary of the byte-level symbols of "the the" (Ġ is the space), merges up to "Ġthe", and
# an end-of-text token: small enough for the size limit, enough for the fuzz target's text.
tokens = ["t", "h", "e", "\u0120", "th", "the", "\u0120the", "<|endoftext|>"]
rng = np.random.default_rng(0)
w = gguf.GGUFWriter(str(out), "llama")
w.add_block_count(1)
w.add_context_length(64)
w.add_embedding_length(8)
w.add_feed_forward_length(16)
w.add_head_count(2)
w.add_head_count_kv(1)
w.add_rope_freq_base(10000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("smollm")
w.add_token_list(tokens)
w.add_token_types([1] * 7 + [3])
w.add_token_merges(["t h", "th e", "\u0120 the"])
w.add_bos_token_id(7)
w.add_eos_token_id(7)
w.add_add_bos_token(False)
w.add_chat_template("{% for m in messages %}<|endoftext|>{{ m['content'] }}{% endfor %}")
vocab = len(tokens)
# F16 matrices, F32 norms; a tied head (no output.weight).
shapes = {
    "token_embd.weight": (vocab, 8),
    "blk.0.attn_norm.weight": (8,),
    "blk.0.attn_q.weight": (8, 8),
    "blk.0.attn_k.weight": (4, 8),
    "blk.0.attn_v.weight": (4, 8),
    "blk.0.attn_output.weight": (8, 8),
    "blk.0.ffn_norm.weight": (8,),
    "blk.0.ffn_gate.weight": (16, 8),
    "blk.0.ffn_up.weight": (16, 8),
    "blk.0.ffn_down.weight": (8, 16),
    "output_norm.weight": (8,),
}
for name, shape in shapes.items():
    a = rng.standard_normal(shape).astype(np.float32)
    w.add_tensor(name, a if len(shape) == 1 else a.astype(np.float16))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(out, out.stat().st_size, "bytes")
