"""The length-grouped sampler: every example once, batches of similar length, batches in random order."""

from __future__ import annotations

import pytest
import torch
from harness_utils import build_trainer

from helixmoe.training.data import ShuffledLengthGroupedSampler


def _batches(sampler: ShuffledLengthGroupedSampler) -> list[list[int]]:
    order = list(sampler)
    return [order[i : i + sampler.batch_size] for i in range(0, len(order), sampler.batch_size)]


def test_every_example_once_in_batches_of_similar_length():
    lengths = [int(x) for x in torch.randint(1, 500, (1000,), generator=torch.Generator().manual_seed(0))]
    sampler = ShuffledLengthGroupedSampler(lengths, batch_size=8, mega_batch=25)
    torch.manual_seed(0)
    order = list(sampler)
    assert sorted(order) == list(range(1000)) and len(sampler) == 1000
    torch.manual_seed(0)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in _batches(sampler)]
    torch.manual_seed(0)
    shuffled = torch.randperm(1000).tolist()
    random_spread = [
        max(lengths[i] for i in shuffled[s : s + 8]) - min(lengths[i] for i in shuffled[s : s + 8])
        for s in range(0, 1000, 8)
    ]
    assert sum(spread) < 0.2 * sum(random_spread)  # far less padding than random batches


def test_batches_come_in_random_order_not_long_to_short_sweeps():
    lengths = list(range(400))  # one mega-batch: HF's sampler would hand out batches from longest to shortest
    sampler = ShuffledLengthGroupedSampler(lengths, batch_size=4, mega_batch=100)
    torch.manual_seed(1)
    firsts = [lengths[b[0]] for b in _batches(sampler)]
    assert firsts != sorted(firsts) and firsts != sorted(firsts, reverse=True)
    assert all(max(lengths[i] for i in b) - min(lengths[i] for i in b) == 3 for b in _batches(sampler))
    torch.manual_seed(1)
    again = list(sampler)
    torch.manual_seed(1)
    assert list(sampler) == again  # seeded by torch's generator, which the Trainer seeds and restores


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        ShuffledLengthGroupedSampler([1, 2], batch_size=0)


def test_the_trainer_uses_it_for_group_by_length(tmp_path, toy_data, tokenizer):
    trainer, _ = build_trainer(tmp_path / "run", toy_data, tokenizer, max_steps=2, eval_steps=None)
    assert trainer.args.train_sampling_strategy == "group_by_length"
    assert isinstance(trainer._get_train_sampler(), ShuffledLengthGroupedSampler)
    trainer.args.train_sampling_strategy = "random"
    assert not isinstance(trainer._get_train_sampler(), ShuffledLengthGroupedSampler)
