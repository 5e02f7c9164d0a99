"""Tiny causal language models with random weights, saved like a user's model folder.

They use real architectures, a real byte-level BPE tokenizer trained here (it round-trips
Korean) and a real chat template, so they load through the same ``from_pretrained`` path as
a model from the hub.
"""
from __future__ import annotations

from pathlib import Path

from hanprompt.testing.corpus import SENTENCES

#: ChatML, the template Qwen2.5 and many other instruct models use.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

#: SmolLM2-135M's shape, for benchmarks that need realistic compute.
SMOLLM2_135M_SHAPE = dict(
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    vocab_size=49152,
)
TINY_SHAPE = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)


def train_bpe_tokenizer(vocab_size: int = 600, extra_text: list[str] | None = None):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on the built-in corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES * 3 + list(extra_text or []), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )


def build_tiny_llama(
    path: str | Path,
    *,
    chat_template: str | None = CHATML_TEMPLATE,
    shape: dict | None = None,
    seed: int = 0,
    max_position_embeddings: int = 1024,
) -> Path:
    """Save a random-weight Llama model with a trained tokenizer into ``path``; return it."""
    import torch
    import transformers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    transformers.utils.logging.disable_progress_bar()

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_bpe_tokenizer()
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    dims = dict(TINY_SHAPE)
    dims.update(shape or {})
    dims.setdefault("vocab_size", len(tokenizer))
    dims["vocab_size"] = max(dims["vocab_size"], len(tokenizer))
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = LlamaConfig(
        max_position_embeddings=max_position_embeddings,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=False,
        **dims,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=[eos_id], pad_token_id=pad_id)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


if __name__ == "__main__":  # python -m hanprompt.testing.models DIR [--smollm2-shape]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hanprompt.testing.models",
                                     description="Write a tiny random-weight Llama (with tokenizer and chat template) to DIR.")
    parser.add_argument("path", metavar="DIR", help="the folder to write")
    parser.add_argument("--smollm2-shape", action="store_true", help="SmolLM2-135M's shape (benchmarks)")
    args = parser.parse_args()
    print(build_tiny_llama(args.path, shape=SMOLLM2_135M_SHAPE if args.smollm2_shape else None))
