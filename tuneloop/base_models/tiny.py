"""A tiny random-weight Llama with a tokenizer trained here: a real model for fast tests.

Everything a real chat model folder has (config, safetensors weights, a fast tokenizer with a
ChatML chat template like SmolLM2's, eos and pad tokens), at a size that trains for 20 LoRA
steps in seconds on 2 cores. The head dimension is 64, which vLLM's CPU attention requires.
Deterministic: the same seed gives the same tokenizer and weights.
"""

from __future__ import annotations

from pathlib import Path

from tuneloop.base_models.folders import build_once

TINY_MODEL_NAME = "tiny-llama"
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: ChatML, as SmolLM2 writes it (without its default system prompt).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
VOCAB_SIZE = 1024
#: Enough English for byte-pair merges that keep help-desk text a few hundred tokens long.
_CORPUS = (
    "How do I reset my password? Go to the login page and click Forgot password. "
    "My laptop will not connect to the VPN. Restart it, then open the VPN client again. "
    "Where do I request a new monitor or keyboard? File a ticket in the IT portal. "
    "How many vacation days do I have this year? Ask HR or check the people portal. "
    "The printer on the third floor is jammed again. Please post in the help channel. "
    "Thanks, that worked! You are welcome. I don't know that yet. "
    "Expense reports are due on the fifth working day of the month. "
    "def main(): print('hello, world')  # code blocks too\n"
)


def build_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    """Write the tiny model into `folder` (once; a finished folder is reused) and return it.

    Raises ImportError when torch or transformers are missing (the `lora` extra).
    """
    return build_once(folder, lambda tmp: _write(tmp, seed))


def _write(out: Path, seed: int) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _train_tokenizer()
    tokenizer.save_pretrained(out)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(out)


def _train_tokenizer():  # -> PreTrainedTokenizerFast (kept untyped: transformers is lazy)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Byte-level BPE: every string encodes, whatever script or emoji it holds.
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    model.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=model,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
    )
