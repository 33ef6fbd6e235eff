"""The running sequences' key/value cache as one left-padded batch, for one forward per step.

Each layer of a transformers `DynamicCache` holds keys and values shaped
[rows, kv_heads, length, head_dim]; a row is one sequence. Sequences of different lengths
share one `length`: the shorter are padded on the left, and the attention mask
([rows, length], 0 on padding) keeps the padding out of attention. Each row's position ids
count only its own tokens, so a padded row sees the positions it would see alone.

New sequences are prefilled together (`prefill_inputs`: their prompts left-padded into one
forward), then their rows join the running batch (`extend`); a sequence leaves by being
dropped (`keep`), and columns that are padding in every remaining row are cut off, so the
batch is never longer than its longest sequence. This is continuous batching over a padded
cache, not vLLM's paged attention: joining and leaving copy the cache, which costs little
next to a forward step.

Only caches whose layers are all full-attention `DynamicLayer`s can be padded and merged
this way (`can_batch`); sliding-window and other layer kinds keep state that padding would
corrupt, so models with them run one sequence at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

#: The token fed at padding positions; any id will do, since attention never sees them.
_PAD_ID = 0


def can_batch(cache: DynamicCache) -> bool:
    """Whether caches like `cache` (a model's empty cache) can be padded and merged."""
    return bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)


def prefill_inputs(prompts: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Forward arguments that feed whole prompts, one per row, left-padded to the longest:
    input ids, attention mask and position ids, each [rows, longest prompt]."""
    width = max(len(prompt) for prompt in prompts)
    input_ids = torch.full((len(prompts), width), _PAD_ID, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if prompt:
            input_ids[row, width - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions}


class PaddedBatch:
    """The cache and attention mask of the sequences decoded together.

    `cache` and `mask` ([rows, length], 1 on tokens, 0 on left padding) are what a prefill
    filled (`prefill_inputs`); the padding columns of the cache are zeroed, so that nothing
    computed for a padding token (a NaN, say) can reach attention, where a zero weight times
    NaN is still NaN. Empty by default. Rows keep the order in which sequences joined. Not
    thread-safe: one thread (the scheduler's) owns it.
    """

    def __init__(self, cache: DynamicCache | None = None, mask: torch.Tensor | None = None) -> None:
        self.cache = cache
        self._mask = mask if mask is not None else torch.zeros(0, 0, dtype=torch.long)
        if cache is not None and not bool(self._mask.all()):
            padding = (self._mask == 0)[:, None, :, None]
            for layer in cache.layers:
                layer.keys = layer.keys.masked_fill(padding, 0.0)
                layer.values = layer.values.masked_fill(padding, 0.0)

    def __len__(self) -> int:
        return int(self._mask.shape[0])

    @property
    def length(self) -> int:
        """Columns in the cache (the longest row's tokens)."""
        return int(self._mask.shape[1])

    def extend(self, other: PaddedBatch) -> None:
        """Append `other`'s rows after these (`other` must not be used afterwards)."""
        if other.cache is None:
            return
        if self.cache is None:
            self.cache, self._mask = other.cache, other._mask
            return
        width = max(self.length, other.length)
        for ours, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            ours.keys = torch.cat([_left_pad(ours.keys, width), _left_pad(theirs.keys, width)])
            ours.values = torch.cat(
                [_left_pad(ours.values, width), _left_pad(theirs.values, width)]
            )
        self._mask = torch.cat([_left_pad(self._mask, width), _left_pad(other._mask, width)])

    def keep(self, rows: list[int]) -> None:
        """Keep only `rows` (indices, in order), and cut columns that are all padding."""
        if not rows:
            self.cache, self._mask = None, torch.zeros(0, 0, dtype=torch.long)
            return
        if rows == list(range(len(self))) or self.cache is None:
            return
        index = torch.tensor(rows, dtype=torch.long)
        mask = self._mask[index]
        start = int(torch.nonzero(mask.any(dim=0))[0])  # the first column a row uses
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, start:]
            layer.values = layer.values[index, :, start:]
        self._mask = mask[:, start:]

    def decode_inputs(self, tokens: list[int]) -> dict[str, Any]:
        """The forward arguments that feed each row its next token (`tokens`, one per row):
        input ids [rows, 1], the attention mask with the new column, position ids [rows, 1],
        and the cache, which the forward extends by one column."""
        if len(tokens) != len(self) or self.cache is None:
            raise ValueError(f"{len(tokens)} tokens for a batch of {len(self)} rows")
        positions = self._mask.sum(dim=1, keepdim=True)
        self._mask = torch.cat([self._mask, torch.ones(len(self), 1, dtype=torch.long)], dim=1)
        return {
            "input_ids": torch.tensor(tokens, dtype=torch.long).unsqueeze(1),
            "attention_mask": self._mask,
            "position_ids": positions,
            "cache": self.cache,
        }


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """`tensor` with zeros prepended along its length axis (the last for a mask [rows,
    length], the third for keys/values [rows, heads, length, head_dim]) up to `width`."""
    axis = 1 if tensor.dim() == 2 else 2
    missing = width - tensor.shape[axis]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)
