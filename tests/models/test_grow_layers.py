"""``grow_layers``: block expansion of a trained base (same outputs, more layers, then trainable)."""

from __future__ import annotations

import pytest
import torch

from helixmoe.errors import ConfigError
from helixmoe.models.base import build_base, count_parameters, grow_layers, load_base, save_base

SMALL = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
}


def _perturbed(model):
    with torch.no_grad():  # a fresh model's norms are all ones and its biases zero: make every weight count
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _base(char_tokenizer, layers: int = 2):
    return _perturbed(
        build_base("tiny", char_tokenizer, seed=5, shape={**SMALL, "num_hidden_layers": layers})
    )


def _logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


@pytest.mark.parametrize(
    ("old", "new", "sources"), [(2, 4, [0, 0, 1, 1]), (2, 3, [0, 1, 1]), (3, 8, [0, 0, 1, 1, 1, 2, 2, 2])]
)
def test_the_grown_base_computes_what_the_base_computed(char_tokenizer, old, new, sources) -> None:
    base = _base(char_tokenizer, old)
    grown = grow_layers(base, new)
    ids = torch.randint(3, len(char_tokenizer), (2, 17))
    assert grown.config.num_hidden_layers == new and len(grown.model.layers) == new
    assert len(grown.config.layer_types) == new
    torch.testing.assert_close(_logits(grown, ids), _logits(base, ids), rtol=0, atol=1e-5)
    per_layer = count_parameters(base.model.layers[0])
    assert count_parameters(grown) == count_parameters(base) + (new - old) * per_layer
    # each layer is its source layer's copy; the added ones (a repeat of the one before) write nothing
    for j, source in enumerate(sources):
        layer, original = grown.model.layers[j], base.model.layers[source]
        assert layer.self_attn.q_proj.weight.equal(original.self_attn.q_proj.weight)
        added = j > 0 and sources[j - 1] == source
        assert bool(layer.mlp.down_proj.weight.abs().sum() == 0) is added
        assert bool(layer.self_attn.o_proj.weight.abs().sum() == 0) is added
        assert layer.self_attn.layer_idx == j


def test_the_grown_base_trains_its_new_layers_and_saves(char_tokenizer, tmp_path) -> None:
    grown = grow_layers(_base(char_tokenizer), 4).train()
    ids = torch.randint(3, len(char_tokenizer), (4, 12))
    optimizer = torch.optim.SGD(grown.parameters(), lr=0.1)
    for _ in range(2):
        grown(ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    new_layer = grown.model.layers[1]
    assert new_layer.mlp.down_proj.weight.abs().sum() > 0  # the zeroed projections learn ...
    assert new_layer.self_attn.o_proj.weight.abs().sum() > 0
    save_base(grown, tmp_path / "grown")  # ... and the deeper base is an ordinary HF directory
    again = load_base(tmp_path / "grown", dtype="float32", device="cpu")
    assert again.config.num_hidden_layers == 4
    grown.eval()
    torch.testing.assert_close(_logits(again, ids), _logits(grown, ids))


def test_biases_of_the_output_projections_are_zeroed_too() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        attention_bias=True,
        mlp_bias=True,
    )
    torch.manual_seed(0)
    base = _perturbed(LlamaForCausalLM(config))
    grown = grow_layers(base, 3)
    ids = torch.randint(0, 50, (1, 9))
    assert grown.model.layers[2].self_attn.o_proj.bias.abs().sum() == 0
    torch.testing.assert_close(_logits(grown, ids), _logits(base, ids), rtol=0, atol=1e-5)


def test_growing_needs_more_layers_and_llama_family_layers(char_tokenizer) -> None:
    base = _base(char_tokenizer)
    with pytest.raises(ConfigError, match=r"model.grow_layers \(2\) must be more than the base's 2 layers"):
        grow_layers(base, 2)
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=4, n_positions=32))
    with pytest.raises(ConfigError, match="needs Llama-family layers"):
        grow_layers(gpt2, 4)
