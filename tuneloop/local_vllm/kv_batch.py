"""The running sequences' key/value cache as one left-padded batch, for one forward per step.

Each layer of a transformers `DynamicCache` holds keys and values shaped
[rows, kv_heads, length, head_dim]; a row is one sequence. Sequences of different lengths
share one `length`: the shorter are padded on the left, and the attention mask
([rows, length], 0 on padding) keeps the padding out of attention. Each row's position ids
count only its own tokens, so a padded row sees the positions it would see alone.

A sequence joins with the cache of its own prefill (one row) and leaves by being dropped;
columns that are padding in every remaining row are cut off, so the batch is never longer
than its longest sequence. This is continuous batching over a padded cache, not vLLM's paged
attention: joining and leaving copy the cache, which costs little next to a forward step.

Only caches whose layers are all full-attention `DynamicLayer`s can be padded and merged
this way (`can_batch`); sliding-window and other layer kinds keep state that padding would
corrupt, so models with them run one sequence at a time.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


def can_batch(cache: DynamicCache) -> bool:
    """Whether caches like `cache` (a model's empty cache) can be padded and merged."""
    return bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)


class PaddedBatch:
    """The cache, attention mask and positions of the sequences decoded together.

    Rows keep the order in which sequences joined; `keep` drops rows. Not thread-safe: one
    thread (the scheduler's) owns it.
    """

    def __init__(self) -> None:
        self.cache: DynamicCache | None = None
        #: [rows, length] int64: 1 where a row has a token, 0 on its left padding.
        self._mask = torch.zeros(0, 0, dtype=torch.long)

    def __len__(self) -> int:
        return int(self._mask.shape[0])

    def add(self, cache: DynamicCache) -> None:
        """Append a sequence, given the one-row cache its prefill filled, as the last row."""
        length = cache.get_seq_length()
        row_mask = torch.ones(1, length, dtype=torch.long)
        if self.cache is None:
            self.cache, self._mask = cache, row_mask
            return
        width = max(self._mask.shape[1], length)
        for ours, theirs in zip(self.cache.layers, cache.layers, strict=True):
            ours.keys = torch.cat([_left_pad(ours.keys, width), _left_pad(theirs.keys, width)])
            ours.values = torch.cat(
                [_left_pad(ours.values, width), _left_pad(theirs.values, width)]
            )
        self._mask = torch.cat([_left_pad(self._mask, width), _left_pad(row_mask, width)])

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

    @property
    def length(self) -> int:
        """Columns in the cache (the longest row's tokens)."""
        return int(self._mask.shape[1])


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
