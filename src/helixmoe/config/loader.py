"""Config files in and out: YAML/TOML -> pydantic model, dotted CLI overrides, atomic YAML save.

Pure Python (layer 0). Public API::

    load_config(path, overrides=(), schema=SystemConfig) -> model
    validate_config(data, schema=SystemConfig, source="<config>", overrides=()) -> model
    apply_overrides(data, overrides) -> dict        parse_override("training.lr=3e-4") -> (keys, value)
    save_config(model, path)                        read_mapping(path) -> dict

Every problem raises :class:`helixmoe.errors.ConfigError` naming the file, the dotted key path and what is
wrong; an unknown key suggests the closest valid one. Override values are YAML scalars (``8``, ``3e-4``,
``true``, ``null``, ``[a, b]``); ``3e-4`` is a float here although plain YAML 1.1 would read a string.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from helixmoe.config.system import SystemConfig
from helixmoe.errors import ConfigError

__all__ = [
    "apply_overrides",
    "load_config",
    "parse_override",
    "read_mapping",
    "save_config",
    "validate_config",
]

M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads YAML 1.2 floats such as ``3e-4`` (no dot) as floats."""


_FLOAT_RE = re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def read_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``.yaml``/``.yml``/``.toml`` file whose top level is a mapping.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML/TOML, or not a mapping.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{file}: cannot read config file ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{file}: not UTF-8 text (byte {err.start}: {err.reason})") from None
    try:
        data = tomllib.loads(text) if file.suffix.lower() == ".toml" else _yaml_load(text)
    except RecursionError:
        raise ConfigError(f"{file}: a value is nested too deeply") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{file}: invalid TOML: {err}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{file}: invalid YAML{where}: {problem}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into ``(["a", "b", "c"], parsed_value)``; the value is a YAML scalar/flow.

    Raises:
        ConfigError: no ``=``, an empty key part, or an unparsable value.
    """
    key, sep, raw = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(part.strip() for part in keys):
        raise ConfigError(f"override {text!r}: expected dotted.key=value, e.g. training.lr=3e-4")
    try:
        value = _yaml_load(raw) if raw.strip() else None
    except (yaml.YAMLError, RecursionError) as err:
        if len(text) > 200:  # an override is one line of a command; a huge one would flood the message
            raise ConfigError(
                f"override {key.strip()}=...: cannot parse its {len(raw)}-character value"
            ) from None
        raise ConfigError(f"override {text!r}: cannot parse the value {raw!r}") from err
    return [part.strip() for part in keys], value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a deep copy of ``data`` with each ``dotted.key=value`` override set (missing levels created).

    Raises:
        ConfigError: an override is malformed or walks through a non-mapping value.
    """
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = result
        for depth, part in enumerate(keys[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(f"override {text!r}: {where} is a {type(child).__name__}, not a section")
            node = child
        node[keys[-1]] = value
    return result


def validate_config(
    data: Mapping[str, Any],
    schema: type[M] = SystemConfig,  # type: ignore[assignment]
    source: str = "<config>",
    overrides: Sequence[str] = (),
) -> M:
    """Validate ``data`` against ``schema``, turning pydantic's errors into one readable ConfigError.

    Args:
        data: The raw mapping (already with overrides applied).
        schema: The pydantic model class.
        source: What to name in messages (usually the file path).
        overrides: The override strings, so an error caused by one can say so.

    Raises:
        ConfigError: listing every invalid key as ``source: key.path: problem``.
    """
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        lines = [_describe(item, schema, overrides) for item in err.errors()]
        head = f"{source}: invalid config ({len(lines)} problem{'s' if len(lines) > 1 else ''})"
        raise ConfigError(head + "\n  " + "\n  ".join(lines)) from None


def load_config(
    path: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    schema: type[M] = SystemConfig,  # type: ignore[assignment]
) -> M:
    """Load a YAML/TOML config file, apply dotted overrides, and validate it.

    Raises:
        ConfigError: the file or an override is invalid (message names the file and the key path).
    """
    data = apply_overrides(read_mapping(path), overrides)
    return validate_config(data, schema, source=str(path), overrides=overrides)


def save_config(model: BaseModel, path: str | os.PathLike[str]) -> Path:
    """Write the resolved config as YAML atomically (temp file in the same directory, then rename)."""
    from helixmoe.atomic import write_text_atomic

    text = yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    return write_text_atomic(path, text)  # with the usual mode of a new file, as every other artifact


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(item: Mapping[str, Any], schema: type[BaseModel], overrides: Sequence[str]) -> str:
    loc = tuple(item["loc"])
    if item["type"] == "extra_forbidden":
        valid = _valid_keys(schema, loc[:-1])
        guess = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        msg = f"unknown key{hint} (valid keys: {', '.join(valid)})" if valid else "unknown key"
    else:
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] not in ("missing",) and not isinstance(item.get("input"), (dict, list)):
            msg += f" (got {item.get('input')!r})"
    origin = next((o for o in overrides if _override_hits(o, loc)), None)
    suffix = f" [from override {origin!r}]" if origin else ""
    return f"{_dotted(loc)}: {msg}{suffix}"


def _override_hits(override: str, loc: Sequence[int | str]) -> bool:
    keys = override.partition("=")[0].strip().split(".")
    parts = [str(p) for p in loc]
    n = min(len(keys), len(parts))
    return n > 0 and keys[:n] == parts[:n]


def _valid_keys(schema: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names of the model found by walking ``loc`` from ``schema`` (``[]`` if not a model)."""
    tp: Any = schema
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap_optional(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _step(tp: Any, part: int | str) -> Any:
    tp = _unwrap_optional(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return field.annotation if field else None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    if origin in (list, Sequence, tuple) and args:
        return args[0]
    return None


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        return members[0] if len(members) == 1 else tp
    return tp
