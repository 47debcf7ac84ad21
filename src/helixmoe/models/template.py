"""The one prompt format shared by training and inference.

A training example is ``<|user|>{prompt}<|assistant|>{response}<|eos|>``; inference feeds
``<|user|>{prompt}<|assistant|>`` and generates until ``<|eos|>``. Prompt and response are tokenised
separately and concatenated, so the boundary is exact for any tokenizer and the loss can be taken on the
response tokens only (``labels = -100`` on the prompt). The markers are special tokens of the tokenizers
trained by :mod:`helixmoe.models.tokenizer`; with a foreign tokenizer (a local Qwen checkout) they are
plain text, which works the same way, only with a few more tokens.

With task hints (``training.task_hints``), the request the model sees starts with one line naming the task
(``@task lc-b-hex``, see :func:`helixmoe.tasks.task_label`): from the example's metadata in training, from
the system's intent model at inference. A tiny model then transduces the value and no longer has to work
out from unseen phrasings what is asked (on held-out phrasings it answered "valid" to one ood conversion in
five without hints).

With request framing as well (``training.frame_requests``), a request whose task is a value in some notation
(one notation or ``multi:...``) shows the model the task line and then only the text of the value
(:func:`helixmoe.hlx.find_value`: the code span, else the longest value in the request), not the English around
it; other requests (``validate``, questions) keep their text after the task line. The English is read by the
intent model, an n-gram classifier that handles held-out phrasings far better than a 1 M-parameter LM; the expert
still does the whole conversion. :func:`request_prompt` is the one function training and inference call.

Public API::

    USER, ASSISTANT, EOS, PAD, UNK, SPECIAL_TOKENS, IGNORE_INDEX
    render_prompt(prompt) -> str                 render_example(prompt, response) -> str
    with_task_hint(prompt, task) -> str          TASK_HINT
    request_prompt(prompt, task, style) -> str   PROMPT_STYLES
    encode_prompt(tokenizer, prompt) -> list[int]
    encode_example(tokenizer, prompt, response, max_length=None) -> EncodedExample
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helixmoe.errors import DataError

__all__ = [
    "ASSISTANT",
    "EOS",
    "IGNORE_INDEX",
    "PAD",
    "PROMPT_STYLES",
    "SPECIAL_TOKENS",
    "TASK_HINT",
    "UNK",
    "USER",
    "EncodedExample",
    "encode_example",
    "encode_prompt",
    "render_example",
    "render_prompt",
    "request_prompt",
    "with_task_hint",
]

USER = "<|user|>"
ASSISTANT = "<|assistant|>"
EOS = "<|eos|>"
PAD = "<|pad|>"
UNK = "<|unk|>"
#: Special tokens of every tokenizer Helix MoE trains, in id order (pad = 0, eos = 1, unk = 2, ...).
SPECIAL_TOKENS: tuple[str, ...] = (PAD, EOS, UNK, USER, ASSISTANT)
#: Label value ignored by the cross-entropy loss (PyTorch and HF convention).
IGNORE_INDEX = -100
#: The first line of a request with a task hint: ``TASK_HINT.format(task=...)``.
TASK_HINT = "@task {task}\n"
#: How the experts see a request: as written, after a task hint line, or framed (hint line + the value alone).
PROMPT_STYLES = ("plain", "hint", "frame")
#: Requests longer than this are never framed (the value search reads the whole text; no expert's context
#: holds more anyway).
_FRAME_MAX_CHARS = 8192


@dataclass(frozen=True)
class EncodedExample:
    """One tokenised training example.

    Attributes:
        input_ids: Prompt, response and EOS token ids, (T,).
        labels: ``input_ids`` with the prompt positions set to :data:`IGNORE_INDEX`, (T,).
        prompt_length: Number of prompt tokens (the response starts at this index).
    """

    input_ids: list[int]
    labels: list[int]
    prompt_length: int

    @property
    def response_mask(self) -> list[bool]:
        """True where the loss is taken (response and EOS tokens), (T,)."""
        return [i >= self.prompt_length for i in range(len(self.input_ids))]


def with_task_hint(prompt: str, task: str | None) -> str:
    """The request with its task hint line in front (unchanged when ``task`` is ``None``)."""
    return prompt if task is None else TASK_HINT.format(task=task) + prompt


def request_prompt(prompt: str, task: str | None, style: str) -> str:
    """The request as the experts see it in ``style`` (:data:`PROMPT_STYLES`) for the task label ``task``.

    ``frame`` keeps only the value's text after the hint line when ``task`` is a value task and the request
    holds a value (else it is ``hint``); ``task=None`` (no intent model, or an imported example) gives the
    request unchanged.

    Raises:
        DataError: an unknown style.
    """
    if style not in PROMPT_STYLES:
        raise DataError(f"unknown prompt style {style!r}; expected one of {', '.join(PROMPT_STYLES)}")
    if style == "plain" or task is None:
        return prompt
    if style == "frame" and _is_value_task(task) and len(prompt) <= _FRAME_MAX_CHARS:
        from helixmoe import hlx

        found = hlx.find_value(prompt)
        if found is not None:
            return TASK_HINT.format(task=task) + found.text
    return with_task_hint(prompt, task)


def _is_value_task(task: str) -> bool:
    from helixmoe import hlx

    return task in hlx.TEXT_NOTATIONS or task.startswith("multi:")


def render_prompt(prompt: str) -> str:
    """The text the model sees before it answers."""
    return f"{USER}{prompt}{ASSISTANT}"


def render_example(prompt: str, response: str) -> str:
    """The full training text of one example (for inspection; training uses :func:`encode_example`)."""
    return f"{render_prompt(prompt)}{response}{EOS}"


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of :func:`render_prompt` (no BOS or other automatic special tokens)."""
    return list(tokenizer.encode(render_prompt(prompt), add_special_tokens=False))


def encode_example(
    tokenizer: Any, prompt: str, response: str, max_length: int | None = None
) -> EncodedExample:
    """Tokenise one example with the loss on the response (and EOS) only.

    Args:
        tokenizer: A HF tokenizer with ``eos_token_id`` set.
        prompt: The user request.
        response: The expected answer.
        max_length: If given, an example longer than this raises instead of being silently truncated
            (a truncated example would lose its EOS and teach the model never to stop).

    Raises:
        DataError: the tokenizer has no EOS token, or the example is longer than ``max_length``.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise DataError("the tokenizer has no eos_token; cannot mark the end of a response")
    prompt_ids = encode_prompt(tokenizer, prompt)
    response_ids = [*tokenizer.encode(response, add_special_tokens=False), eos]
    input_ids = prompt_ids + response_ids
    if max_length is not None and len(input_ids) > max_length:
        raise DataError(
            f"example of {len(input_ids)} tokens exceeds max_length {max_length}: {prompt[:60]!r}"
        )
    labels = [IGNORE_INDEX] * len(prompt_ids) + response_ids
    return EncodedExample(input_ids=input_ids, labels=labels, prompt_length=len(prompt_ids))
