"""llm-compressor 0.14.0.1's AWQ on the first decoder layer of a model, for test_awq_reference.py.

Run as a script in its own process (llm-compressor's package is imported from the unpacked
reference folder, which must not leak into the other tests' modules):

    python awq_reference.py MODEL_DIR IDS.npy GROUP_SIZE OUT.json

IDS.npy holds the calibration samples [n, seq_len]. The layer's input is the token embedding
rounded to BF16 (lowbit keeps hidden states between layers in BF16). The parents' arguments and
the smoothing statistics are captured by hooks as AWQModifier's own hooks capture them, then its
_apply_smoothing runs unchanged; the chosen (ratio, duo_scaling) of each mapping is recovered by
matching the scales it returned against the grid's. Writes {smooth_layer: {ratio, duo_scaling,
initial_error, best_error}}.
"""
import json
import sys
from pathlib import Path
from unittest.mock import MagicMock

REF = Path(sys.prefix) / "reference" / "llmcompressor-0.14.0.1"


def main(model_dir, ids_file, group_size, out_file):
    # llm-compressor imports `datasets` at package import; nothing here uses it.
    for name in ["datasets", "datasets.formatting", "datasets.formatting.formatting"]:
        sys.modules.setdefault(name, MagicMock())
    sys.path.insert(0, str(REF))
    import numpy as np
    import torch
    from compressed_tensors.quantization import (QuantizationArgs, QuantizationConfig, QuantizationScheme,
                                                 QuantizationStatus, apply_quantization_config,
                                                 disable_quantization)
    from transformers import AutoModelForCausalLM
    from llmcompressor.modifiers.transform.awq.base import AWQModifier
    from llmcompressor.modifiers.transform.awq.mappings import ResolvedMapping
    from llmcompressor.pipelines.cache import IntermediatesCache

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    layer = model.model.layers[0]
    scheme = QuantizationScheme(targets=["Linear"], weights=QuantizationArgs(
        num_bits=4, type="int", symmetric=True, strategy="group", group_size=group_size))
    config = QuantizationConfig(config_groups={"group_0": scheme}, ignore=["lm_head"],
                                quantization_status=QuantizationStatus.INITIALIZED)
    apply_quantization_config(model, config, show_progress=False)
    model.apply(disable_quantization)  # as QuantizationMixin leaves it until calibration ends

    attn, mlp = layer.self_attn, layer.mlp
    p = "model.layers.0."
    mappings = [ResolvedMapping(p + "input_layernorm", layer.input_layernorm, [attn.q_proj, attn.k_proj, attn.v_proj],
                                balance_names=[p + "self_attn." + n for n in ("q_proj", "k_proj", "v_proj")],
                                parent=attn, parent_name=p + "self_attn")]
    if attn.v_proj.out_features == attn.o_proj.in_features:
        mappings.append(ResolvedMapping(p + "self_attn.v_proj", attn.v_proj, [attn.o_proj],
                                        balance_names=[p + "self_attn.o_proj"], parent=attn.o_proj,
                                        parent_name=p + "self_attn.o_proj"))
    mappings += [
        ResolvedMapping(p + "post_attention_layernorm", layer.post_attention_layernorm, [mlp.gate_proj, mlp.up_proj],
                        balance_names=[p + "mlp.gate_proj", p + "mlp.up_proj"], parent=mlp, parent_name=p + "mlp"),
        ResolvedMapping(p + "mlp.up_proj", mlp.up_proj, [mlp.down_proj], balance_names=[p + "mlp.down_proj"],
                        parent=mlp.down_proj, parent_name=p + "mlp.down_proj"),
    ]
    awq = AWQModifier(duo_scaling=True, n_grid=20, offload_device=None)
    awq._resolved_mappings = mappings
    awq._setup_activation_cache_hooks()  # its own hooks: parent kwargs and sum |x| of the first balance layer

    ids = torch.from_numpy(np.load(ids_file)).long()
    with torch.no_grad():
        for row in ids:
            h = model.model.embed_tokens(row[None]).to(torch.bfloat16).float()
            pos = torch.arange(h.shape[1])[None]
            # A causal mask the model's forward would build: the parents' cached arguments replay it
            # under llm-compressor's calibration context, which forces eager attention.
            mask = torch.full((h.shape[1], h.shape[1]), torch.finfo(h.dtype).min).triu(1)[None, None]
            layer(h, attention_mask=mask, position_ids=pos, position_embeddings=model.model.rotary_emb(h, pos))
    awq.remove_hooks()

    chosen, losses = {}, []
    compute, compute_loss = AWQModifier._compute_best_scale, AWQModifier._compute_loss

    def record_loss(self, fp16_outputs, int_w_outputs):
        losses.append(compute_loss(self, fp16_outputs, int_w_outputs))
        return losses[-1]

    def record(self, mapping, fp16_outputs, orig_weights):
        x_sum, count = self._smooth_activation_stats[mapping.smooth_name]
        x_mean = x_sum / count
        w_mean = self._compute_layer_means(mapping.balance_layers)
        losses.clear()
        best = compute(self, mapping, fp16_outputs, orig_weights)
        for ratio, duo in self._get_grid_search_params():
            s = (x_mean.pow(ratio) / (w_mean.pow(1 - ratio) + 1e-4)).clamp(min=1e-4) if duo else \
                x_mean.pow(ratio).clamp(min=1e-4).view(-1)
            s = s / (s.max() * s.min()).sqrt()
            s[torch.isinf(s)] = 1
            s[torch.isnan(s)] = 1
            if torch.equal(s, best):
                m = self._error_metrics[-1]
                chosen[mapping.smooth_name] = {"ratio": ratio, "duo_scaling": duo,
                                               "initial_error": m["initial_error"], "best_error": m["best_error"],
                                               "losses": list(losses)}
                break
        else:
            raise AssertionError(f"{mapping.smooth_name}: the returned scales are no grid candidate")
        return best

    AWQModifier._compute_best_scale = record
    AWQModifier._compute_loss = record_loss
    # Its grid search pins the cached arguments in page-locked memory, which needs a GPU driver
    # (the crash the issue notes on CPU-only machines); pinning changes no value.
    IntermediatesCache.pin_memory = lambda self, index: None
    awq._apply_smoothing(model)
    Path(out_file).write_text(json.dumps(chosen, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
