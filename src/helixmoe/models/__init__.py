"""Layer 1 tensors: tokenizers, base models, the expert pool, the prompt template and the system layout.

Public names (imported lazily, so ``from helixmoe.models.layout import read_system_config`` and the CLI
start without importing torch)::

    train_tokenizer  save_tokenizer  load_tokenizer                      (helixmoe.models.tokenizer)
    build_base  load_base  base_from_config  save_base  select_device_dtype  count_parameters  BASE_SIZES
    grow_layers                                                          (helixmoe.models.base)
    ExpertPool  lora_to_peft                                             (helixmoe.models.experts)
    render_prompt  encode_prompt  encode_example  EncodedExample          (helixmoe.models.template)
    SystemLayout  save_system_skeleton  read_system_config  check_system  load_system  LoadedSystem
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train_tokenizer": "tokenizer",
    "save_tokenizer": "tokenizer",
    "load_tokenizer": "tokenizer",
    "BASE_SIZES": "base",
    "build_base": "base",
    "load_base": "base",
    "base_from_config": "base",
    "save_base": "base",
    "select_device_dtype": "base",
    "count_parameters": "base",
    "grow_layers": "base",
    "ExpertPool": "experts",
    "lora_to_peft": "experts",
    "render_prompt": "template",
    "encode_prompt": "template",
    "encode_example": "template",
    "EncodedExample": "template",
    "SystemLayout": "layout",
    "LoadedSystem": "layout",
    "save_system_skeleton": "layout",
    "read_system_config": "layout",
    "check_system": "layout",
    "load_system": "layout",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'helixmoe.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"helixmoe.models.{module}"), name)
