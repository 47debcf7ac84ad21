"""Import and export of the common fine-tuning formats.

* ``instruction``: ``{"input": "### Instruction:\\n<prompt>\\n\\n### Response:\\n", "output": <response>}``
* ``chat``: ``{"messages": [{"role": "user", "content": <prompt>}, {"role": "assistant", "content": <response>}]}``

Exports also carry ``id``, ``family``, ``expert``, ``split`` and ``meta`` (unless ``minimal``), so an
export imports back to the same examples. Imports accept either format (detected per record), Alpaca
``{"instruction", "input", "output"}`` records and corpus records; records without our fields become
family ``imported`` with the given expert and split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from helixmoe.errors import DataError
from helixmoe.tasks.base import EXPERTS, FAMILIES, META_KEYS, SPLITS, Example, make_meta

__all__ = ["EXPORT_FORMATS", "INSTRUCTION_PREFIX", "INSTRUCTION_SUFFIX", "export_examples", "import_records"]

EXPORT_FORMATS = ("instruction", "chat")
INSTRUCTION_PREFIX = "### Instruction:\n"
INSTRUCTION_SUFFIX = "\n\n### Response:\n"


def export_examples(
    examples: Iterable[Example], fmt: str = "instruction", *, minimal: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield one record per example in ``fmt`` (``instruction`` or ``chat``)."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    for ex in examples:
        if fmt == "instruction":
            record: dict[str, Any] = {
                "input": INSTRUCTION_PREFIX + ex.prompt + INSTRUCTION_SUFFIX,
                "output": ex.response,
            }
        else:
            record = {
                "messages": [
                    {"role": "user", "content": ex.prompt},
                    {"role": "assistant", "content": ex.response},
                ]
            }
        if not minimal:
            record.update(id=ex.id, family=ex.family, expert=ex.expert, split=ex.split, meta=dict(ex.meta))
        yield record


def _prompt_response(obj: dict[str, Any]) -> tuple[str, str]:
    """Pull ``(prompt, response)`` out of any supported record shape."""
    if "messages" in obj:
        messages = obj["messages"]
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise DataError("'messages' must be a list of {role, content} objects")
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        if not users:
            raise DataError("chat record has no user message")
        last = users[-1]
        replies = [m for m in messages[last + 1 :] if m.get("role") == "assistant"]
        if not replies:
            raise DataError("chat record has no assistant message after the last user message")
        return _text(messages[last].get("content"), "user content"), _text(
            replies[0].get("content"), "assistant content"
        )
    if "instruction" in obj and "output" in obj:  # Alpaca
        extra = obj.get("input") or ""
        prompt = _text(obj["instruction"], "instruction") + ("\n\n" + _text(extra, "input") if extra else "")
        return prompt, _text(obj["output"], "output")
    if "input" in obj and "output" in obj:
        text = _text(obj["input"], "input")
        if text.startswith(INSTRUCTION_PREFIX) and text.endswith(INSTRUCTION_SUFFIX):
            text = text[len(INSTRUCTION_PREFIX) : len(text) - len(INSTRUCTION_SUFFIX)]
        return text, _text(obj["output"], "output")
    if "prompt" in obj and "response" in obj:
        return _text(obj["prompt"], "prompt"), _text(obj["response"], "response")
    raise DataError(
        "unrecognised record: expected 'messages', 'input'/'output', 'instruction'/'output' or 'prompt'/'response'"
    )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{what} must be a string, got {type(value).__name__}")
    return value


def import_records(
    records: Iterable[tuple[int, Any]],
    source: str = "input",
    *,
    expert: str = "coordinator",
    split: str = "train",
) -> list[Example]:
    """Turn ``(line, record)`` pairs into examples.

    Args:
        records: e.g. :func:`helixmoe.tasks.jsonl.read_jsonl` output.
        source: the file name used in error messages.
        expert: expert of records that do not name one.
        split: split of records that do not name one.

    Raises:
        DataError: ``<source>:<line>: <what>`` for a malformed record.
    """
    if expert not in EXPERTS or split not in SPLITS:
        raise DataError(f"expert must be one of {', '.join(EXPERTS)} and split one of {', '.join(SPLITS)}")
    out = []
    for line, obj in records:
        try:
            if not isinstance(obj, dict):
                raise DataError("expected a JSON object")
            prompt, response = _prompt_response(obj)
            family = str(obj["family"]) if obj.get("family") in FAMILIES else "imported"
            ex_expert = obj.get("expert", expert)
            ex_split = obj.get("split", split)
            if ex_expert not in EXPERTS:
                raise DataError(f"unknown expert {ex_expert!r}")
            if ex_split not in SPLITS:
                raise DataError(f"unknown split {ex_split!r}")
            meta_in: dict[str, Any] = obj["meta"] if isinstance(obj.get("meta"), dict) else {}
            meta = make_meta(**{k: (None if meta_in.get(k) is None else str(meta_in[k])) for k in META_KEYS})
            ex_id = obj["id"] if isinstance(obj.get("id"), str) else f"imported-{line}"
            out.append(Example(ex_id, family, ex_expert, prompt, response, ex_split, meta))
        except DataError as err:
            raise DataError(f"{source}:{line}: {err}") from None
    return out
