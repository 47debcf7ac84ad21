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

With aligned positions as well (``training.aligned_positions``, *position coupling* after Cho et al. 2024,
"Position Coupling: Improving Length Generalization of Arithmetic Transformers"), the answer to a framed
single-notation request does not continue the prompt's position ids: answer token ``k`` gets the position id
of value token ``k + 1``, the token it most likely copies next. A conversion between text notations is mostly
a token-for-token copy with a few structural tokens swapped, and a 1 M-parameter model loses its place in a
long value (drops or repeats keys); with the positions coupled, "where am I in the value" is a fixed relative
offset that a rotary attention head finds without counting. :func:`encode_request` gives the prompt's ids
and the position id of the first answer token; :func:`encode_example` the whole example's ``position_ids``.
Measured in ``benchmarks/bench_learnability.py --aligned`` and the demo (README, "Aligned positions").

Public API::

    USER, ASSISTANT, EOS, PAD, UNK, SPECIAL_TOKENS, IGNORE_INDEX
    render_prompt(prompt) -> str                 render_example(prompt, response) -> str
    with_task_hint(prompt, task) -> str          TASK_HINT
    request_prompt(prompt, task, style) -> str   PROMPT_STYLES
    encode_prompt(tokenizer, prompt) -> list[int]   encode_texts(tokenizer, texts) -> list[list[int]]
    aligned_value_at(prompt) -> int | None       encode_request(tokenizer, prompt, value_at) -> EncodedPrompt
    encode_example(tokenizer, prompt, response, max_length=None, value_at=None) -> EncodedExample
    encode_examples(tokenizer, [(prompt, response, value_at), ...], max_length=None) -> Iterator[...]
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from helixmoe.errors import DataError

__all__ = [
    "ASSISTANT",
    "EOS",
    "IGNORE_INDEX",
    "PAD",
    "PREFIX_CHARS_PER_TOKEN",
    "PROMPT_STYLES",
    "SPECIAL_TOKENS",
    "TASK_HINT",
    "UNK",
    "USER",
    "EncodedExample",
    "EncodedPrompt",
    "aligned_value_at",
    "encode_example",
    "encode_examples",
    "encode_prompt",
    "encode_request",
    "encode_texts",
    "prefix_over",
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
#: How the experts see a request: as written, after a task hint line, framed (hint line + the value alone), or
#: framed with the answer's positions aligned to the value (``aligned``: the text is ``frame``'s).
PROMPT_STYLES = ("plain", "hint", "frame", "aligned")
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
        position_ids: Position ids, (T,), when the answer is aligned to a value (:func:`encode_request`);
            ``None``: the model numbers the tokens ``0..T-1``.
    """

    input_ids: list[int]
    labels: list[int]
    prompt_length: int
    position_ids: list[int] | None = None

    @property
    def response_mask(self) -> list[bool]:
        """True where the loss is taken (response and EOS tokens), (T,)."""
        return [i >= self.prompt_length for i in range(len(self.input_ids))]


def with_task_hint(prompt: str, task: str | None) -> str:
    """The request with its task hint line in front (unchanged when ``task`` is ``None``)."""
    return prompt if task is None else TASK_HINT.format(task=task) + prompt


def request_prompt(prompt: str, task: str | None, style: str) -> str:
    """The request as the experts see it in ``style`` (:data:`PROMPT_STYLES`) for the task label ``task``.

    ``frame`` (and ``aligned``) keeps only the value's text after the hint line when ``task`` is a value task and the request
    holds a value (else it is ``hint``); ``task=None`` (no intent model, or an imported example) gives the
    request unchanged.

    Raises:
        DataError: an unknown style.
    """
    if style not in PROMPT_STYLES:
        raise DataError(f"unknown prompt style {style!r}; expected one of {', '.join(PROMPT_STYLES)}")
    if style == "plain" or task is None:
        return prompt
    if style in ("frame", "aligned") and _is_value_task(task) and len(prompt) <= _FRAME_MAX_CHARS:
        value = _value_text(prompt)
        if value is not None:
            return TASK_HINT.format(task=task) + value
    return with_task_hint(prompt, task)


@functools.lru_cache(maxsize=1 << 17)
def _value_text(prompt: str) -> str | None:
    """The text of the request's value (:func:`helixmoe.hlx.find_value`), remembered per request: finding it
    parses the request in every text notation (about half a millisecond), and a training run frames each
    expert's training prompts twice (for the base, then for the expert)."""
    from helixmoe import hlx

    found = hlx.find_value(prompt)
    return None if found is None else found.text


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


@dataclass(frozen=True)
class EncodedPrompt:
    """A request's token ids and where its answer's positions start.

    Attributes:
        ids: Token ids of :func:`render_prompt`, (T,).
        answer_position: Position id of the first answer token: ``T`` (right after the prompt) unless the
            answer is aligned to a value in the prompt.
    """

    ids: list[int]
    answer_position: int


def aligned_value_at(prompt: str) -> int | None:
    """Where the value starts in a request framed for one text notation (``@task lc-r\\n<value>``), else ``None``.

    The answer to such a request is that value in another notation, so its positions can align with the value's
    (``training.aligned_positions``); other requests (``validate``, questions, ``multi:...``) answer in other
    shapes and keep ordinary positions.
    """
    head, newline, _ = prompt.partition("\n")
    task = head.removeprefix("@task ")
    if not newline or task == head:
        return None
    from helixmoe import hlx

    return len(head) + 1 if task in hlx.TEXT_NOTATIONS else None


def _request_texts(prompt: str, value_at: int | None) -> list[str]:
    """The texts a request is tokenised as: the whole rendered prompt, or the parts before and from the
    aligned value (:func:`encode_request`)."""
    if value_at is None:
        return [render_prompt(prompt)]
    return [USER + prompt[:value_at], prompt[value_at:] + ASSISTANT]


def _request(parts: list[list[int]]) -> EncodedPrompt:
    """:class:`EncodedPrompt` of the token ids of :func:`_request_texts`' parts."""
    if len(parts) == 1:
        return EncodedPrompt(ids=parts[0], answer_position=len(parts[0]))
    head, rest = parts
    return EncodedPrompt(ids=head + rest, answer_position=len(head) + 1)


def encode_texts(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, no special tokens added, in one batched tokenizer call (a fast tokenizer
    encodes a batch in Rust on every core, without the per-call Python overhead of one ``encode`` per text)."""
    if not texts:
        return []
    enc = tokenizer(texts, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False)
    ids: list[list[int]] = enc["input_ids"]  # already one list per text: no copy
    return ids


#: A prompt longer than this many characters per token of context is tokenised only that far first: a prefix
#: already over the context refuses it (see :func:`prefix_over`).
PREFIX_CHARS_PER_TOKEN = 8


def prefix_over(tokenizer: Any, prompt: str, context: int) -> int | None:
    """The token count of ``prompt``'s first ``8 × context`` characters when that alone is over ``context``,
    else ``None``.

    Refuses a request far longer than the base reads without tokenising all of it: the ``hlx`` scheme's
    pre-tokenizer (:mod:`helixmoe.models.tokenizer`) cuts LC-B hex into bytes with a look-ahead to the end of
    the hex run, which costs time quadratic in the run's length (a 300 kB hex value took 95 s to refuse).
    One token more than ``context`` is allowed for a token the cut split in two.
    """
    limit = PREFIX_CHARS_PER_TOKEN * context
    if len(prompt) <= limit:
        return None
    count = len(tokenizer.encode(prompt[:limit], add_special_tokens=False))
    return count if count > context + 1 else None


def encode_request(tokenizer: Any, prompt: str, value_at: int | None = None) -> EncodedPrompt:
    """Token ids of :func:`render_prompt` and the position id of the first answer token.

    With ``value_at`` (a character offset into ``prompt``, e.g. :func:`aligned_value_at`), the text before
    and from the offset are tokenised apart, so the value's first token starts exactly there, and the answer
    token ``k`` gets the position id of value token ``k + 1`` (position coupling; see the module docstring).
    Without it the ids are :func:`encode_prompt`'s and the answer continues the prompt's positions.
    """
    texts = _request_texts(prompt, value_at)
    return _request([list(tokenizer.encode(t, add_special_tokens=False)) for t in texts])


def _eos_id(tokenizer: Any) -> int:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise DataError("the tokenizer has no eos_token; cannot mark the end of a response")
    return int(eos)


def _example(
    request: EncodedPrompt,
    response_ids: list[int],
    eos: int,
    max_length: int | None,
    aligned: bool,
    prompt: str,
) -> EncodedExample:
    prompt_ids = request.ids
    response_ids = [*response_ids, eos]
    input_ids = prompt_ids + response_ids
    if max_length is not None and len(input_ids) > max_length:
        raise DataError(
            f"example of {len(input_ids)} tokens exceeds max_length {max_length}: {prompt[:60]!r}"
        )
    labels = [IGNORE_INDEX] * len(prompt_ids) + response_ids
    positions = None
    if aligned:
        start = request.answer_position
        positions = [*range(len(prompt_ids)), *range(start, start + len(response_ids))]
    return EncodedExample(
        input_ids=input_ids, labels=labels, prompt_length=len(prompt_ids), position_ids=positions
    )


def encode_example(
    tokenizer: Any,
    prompt: str,
    response: str,
    max_length: int | None = None,
    value_at: int | None = None,
) -> EncodedExample:
    """Tokenise one example with the loss on the response (and EOS) only.

    Args:
        tokenizer: A HF tokenizer with ``eos_token_id`` set.
        prompt: The user request.
        response: The expected answer.
        max_length: If given, an example longer than this raises instead of being silently truncated
            (a truncated example would lose its EOS and teach the model never to stop).
        value_at: Align the response's positions to the value at this character offset of ``prompt``
            (:func:`encode_request`); the example then carries ``position_ids``.

    Raises:
        DataError: the tokenizer has no EOS token, or the example is longer than ``max_length``.
    """
    eos = _eos_id(tokenizer)
    request = encode_request(tokenizer, prompt, value_at)
    response_ids = list(tokenizer.encode(response, add_special_tokens=False))
    return _example(request, response_ids, eos, max_length, value_at is not None, prompt)


#: Examples tokenised per batched call by :func:`encode_examples` (bounds the token lists held at once).
_ENCODE_CHUNK = 4096


def encode_examples(
    tokenizer: Any,
    examples: Sequence[tuple[str, str, int | None]],
    max_length: int | None = None,
) -> Iterator[EncodedExample | DataError]:
    """:func:`encode_example` of each ``(prompt, response, value_at)``, tokenised in batches.

    Yields, in order, each example's :class:`EncodedExample`, or the :class:`DataError` that
    :func:`encode_example` would raise for it (longer than ``max_length``), so a caller can skip or raise.
    The ids are the same as one :func:`encode_example` call per example (tested); one expert's 20 000
    examples of a demo corpus tokenised in 4.0–4.6 s instead of 6.9–10.3 s on this project's 2-core machine.

    Raises:
        DataError: the tokenizer has no EOS token.
    """
    eos = _eos_id(tokenizer)
    for start in range(0, len(examples), _ENCODE_CHUNK):
        chunk = examples[start : start + _ENCODE_CHUNK]
        texts: list[str] = []
        for prompt, response, value_at in chunk:
            texts += [*_request_texts(prompt, value_at), response]
        ids = iter(encode_texts(tokenizer, texts))
        for prompt, _, value_at in chunk:
            parts = [next(ids) for _ in range(1 if value_at is None else 2)]
            try:
                yield _example(_request(parts), next(ids), eos, max_length, value_at is not None, prompt)
            except DataError as err:
                yield err
