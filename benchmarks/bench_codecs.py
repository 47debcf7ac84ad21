"""Parse/emit throughput of the HLX codecs beside Python's ``json`` on the same value trees (issue 2, item 5).

Every notation, ``json`` with its C accelerator and ``json`` forced onto its pure-Python path (the stdlib's
``py_scanstring``/``py_make_scanner`` decoder and the ``_make_iterencode`` encoder with the pure string
escapers) are timed in the same run on identical data: a few seeded, JSON-compatible trees (records,
numbers, text, nested config) plus one HLX-only tree (contracts, handles, bytes) that json cannot carry.
Timing is ``time.perf_counter``, best of N repeats, each repeat auto-sized to a minimum duration.

Ratios are speed ratios on the same tree (``t_json / t_codec``; above 1.0 the codec is faster). The target
(issue 2): HLXL and LC-T parse and emit at >= 1.0x the pure-Python json; the C ratio is information.

Usage::

    python benchmarks/bench_codecs.py [--quick] [--json PATH] [--profile NOTATION]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import json.decoder
import json.encoder
import json.scanner
import platform
import pstats
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from helixmoe import hlx

TARGET_NOTATIONS = ("hlxl", "lc-t")
_WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "render",
    "pipeline",
    "shader",
    "kernel",
    "tensor",
    "router",
    "expert",
    "adapter",
    "search",
    "query",
    "dispatch",
    "vertex",
    "fragment",
    "compute",
    "buffer",
    "image",
    "sampler",
    "value",
    "model",
    "token",
    "weight",
]
_UNICODE = [
    "café",
    "naïve",
    "日本語",
    "Ωmega",
    "emoji 😀",
    "tab\there",
    'quote "x"',
    "line\nbreak",
    "back\\slash",
]


# --- data ---------------------------------------------------------------------------------------
def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words) + 1), rng.choice(_UNICODE))
    return " ".join(words)


def _records(rng: random.Random, n: int) -> list[Any]:
    return [
        {
            "id": i,
            "name": _sentence(rng, 2).title(),
            "email": f"{rng.choice(_WORDS)}{i}@example.org",
            "age": rng.randrange(18, 90),
            "score": round(rng.uniform(0, 100), 2),
            "active": rng.random() < 0.5,
            "tags": [rng.choice(_WORDS) for _ in range(rng.randrange(4))],
            "address": {
                "street": _sentence(rng, 3),
                "city": rng.choice(_WORDS).title(),
                "zip": f"{rng.randrange(10**5):05d}",
            },
            "note": None if rng.random() < 0.7 else _sentence(rng, 8),
        }
        for i in range(n)
    ]


def _numbers(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "series": [[rng.uniform(-1e3, 1e3) for _ in range(16)] for _ in range(n // 4)],
        "counts": [rng.randrange(-(2**40), 2**40) for _ in range(2 * n)],
        "small": [rng.randrange(256) for _ in range(2 * n)],
        "exp": [rng.choice([1e-10, 2.5e16, 6.02e23, 1.6e-19]) * rng.random() for _ in range(n // 2)],
    }


def _text(rng: random.Random, n: int) -> list[str]:
    return [_sentence(rng, rng.randrange(3, 20)) for _ in range(n)]


def _nested(rng: random.Random, depth: int) -> Any:
    if depth == 0:
        return rng.choice([rng.randrange(1000), rng.random(), _sentence(rng, 2), True, None])
    if rng.random() < 0.5:
        return {f"{rng.choice(_WORDS)}_{k}": _nested(rng, depth - 1) for k in range(3)}
    return [_nested(rng, depth - 1) for _ in range(3)]


def _hlx_only(rng: random.Random, n: int) -> list[Any]:
    return [
        hlx.Contract(
            1000,
            (
                (0, rng.choice(_WORDS)),
                (1, hlx.Handle(f"{rng.choice(_WORDS)}_{i}")),
                (2, rng.randbytes(rng.randrange(16))),
                (3, hlx.Contract(14, ((0, rng.randrange(-(2**31), 2**31)),))),
                (
                    5,
                    [hlx.Contract(902, ((0, hlx.Handle("vs")), (1, rng.random()))), {"k": _sentence(rng, 3)}],
                ),
            ),
        )
        for i in range(n)
    ]


def datasets(scale: int, seed: int = 0) -> dict[str, tuple[Any, bool]]:
    """Name -> (value tree, json-compatible). ``scale`` ~ records per tree."""
    rng = random.Random(seed)
    return {
        "records": (_records(rng, scale), True),
        "numbers": (_numbers(rng, scale), True),
        "text": (_text(rng, 2 * scale), True),
        "nested": ([_nested(rng, 5) for _ in range(max(1, scale // 40))], True),
        "hlx-only": (_hlx_only(rng, scale), False),
    }


def count_values(value: Any) -> int:
    """Number of HLX values in a tree (containers and scalars; object keys not counted)."""
    if isinstance(value, list):
        return 1 + sum(count_values(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(count_values(v) for v in value.values())
    if isinstance(value, hlx.Contract):
        return 1 + sum(count_values(v) for _, v in value.fields)
    return 1


# --- json baselines ----------------------------------------------------------------------------
@contextlib.contextmanager
def pure_json() -> Iterator[None]:
    """Force the stdlib json onto its pure-Python code paths (restored on exit)."""
    saved = (
        json.decoder.scanstring,
        json.encoder.c_make_encoder,
        json.encoder.encode_basestring_ascii,
        json.encoder.encode_basestring,
    )
    json.decoder.scanstring = json.decoder.py_scanstring  # used by JSONObject for keys
    json.encoder.c_make_encoder = None
    json.encoder.encode_basestring_ascii = json.encoder.py_encode_basestring_ascii
    json.encoder.encode_basestring = json.encoder.py_encode_basestring
    try:
        yield
    finally:
        (
            json.decoder.scanstring,
            json.encoder.c_make_encoder,
            json.encoder.encode_basestring_ascii,
            json.encoder.encode_basestring,
        ) = saved


def _py_decoder() -> json.JSONDecoder:
    dec = json.JSONDecoder()
    dec.parse_string = json.decoder.py_scanstring  # type: ignore[attr-defined]
    dec.scan_once = json.scanner.py_make_scanner(dec)  # type: ignore[attr-defined]
    return dec


def codecs() -> dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]]:
    """Codec name -> (emit, parse). json-py must run inside :func:`pure_json`."""
    table: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}
    for n in hlx.NOTATIONS:
        table[n] = ((lambda v, n=n: hlx.dumps(v, n)), (lambda t, n=n: hlx.loads(t, n)))
    py_dec, py_enc = _py_decoder(), json.JSONEncoder()
    table["json-c"] = (json.dumps, json.loads)
    table["json-py"] = (py_enc.encode, py_dec.decode)
    return table


# --- timing ------------------------------------------------------------------------------------
def calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """How many calls of ``fn`` take at least ``min_time`` seconds."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            return number
        number *= 2 if elapsed == 0 else max(2, min(10, int(1.2 * min_time / elapsed) + 1))


def run_once(fn: Callable[[], Any], number: int, ctx: Callable[[], Any]) -> float:
    """Seconds per call of ``fn`` over ``number`` calls inside ``ctx``."""
    with ctx():
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number


def measure(name: str, value: Any, json_ok: bool, repeats: int, min_time: float) -> list[dict[str, Any]]:
    """Time emit and parse of every codec on one tree; repeats are interleaved across codecs so that a
    change in machine load hits all of them alike; the best of ``repeats`` is kept."""
    jobs: list[tuple[str, str, Callable[[], Any], Callable[[], Any], int]] = []
    rows: dict[str, dict[str, Any]] = {}
    for codec, (emit, parse) in codecs().items():
        if codec.startswith("json") and not json_ok:
            continue
        ctx = pure_json if codec == "json-py" else contextlib.nullcontext
        with ctx():
            data = emit(value)
            back = parse(data)
        if not (hlx.equal(back, value) or (codec.startswith("json") and back == value)):
            raise SystemExit(f"{codec} did not round-trip dataset {name!r}")
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
        rows[codec] = {"dataset": name, "codec": codec, "bytes": size, "values": count_values(value)}
        for op, fn in (("emit", functools.partial(emit, value)), ("parse", functools.partial(parse, data))):
            with ctx():
                number = calibrate(fn, min_time)
            jobs.append((codec, op, fn, ctx, number))
    for _ in range(repeats):
        for codec, op, fn, ctx, number in jobs:
            seconds = run_once(fn, number, ctx)
            rows[codec][f"{op}_s"] = min(seconds, rows[codec].get(f"{op}_s", seconds))
    return _add_ratios(list(rows.values()))


def _add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = {r["codec"]: r for r in rows}
    for r in rows:
        for ref in ("json-py", "json-c"):
            if ref in base:
                r[f"parse_x_{ref}"] = base[ref]["parse_s"] / r["parse_s"]
                r[f"emit_x_{ref}"] = base[ref]["emit_s"] / r["emit_s"]
    return rows


# --- report ------------------------------------------------------------------------------------
def _fmt_ratio(r: dict[str, Any], key: str) -> str:
    return f"{r[key]:6.2f}x" if key in r else "      -"


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'dataset':9} {'codec':9} {'KiB':>7} {'parse MB/s':>10} {'parse val/s':>12} {'emit MB/s':>9} "
        f"{'emit val/s':>11} {'parse/py':>8} {'emit/py':>8} {'parse/C':>8} {'emit/C':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        mb = r["bytes"] / 1e6
        print(
            f"{r['dataset']:9} {r['codec']:9} {r['bytes'] / 1024:7.1f} {mb / r['parse_s']:10.2f} "
            f"{r['values'] / r['parse_s']:12,.0f} {mb / r['emit_s']:9.2f} {r['values'] / r['emit_s']:11,.0f} "
            f"{_fmt_ratio(r, 'parse_x_json-py'):>8} {_fmt_ratio(r, 'emit_x_json-py'):>8} "
            f"{_fmt_ratio(r, 'parse_x_json-c'):>8} {_fmt_ratio(r, 'emit_x_json-c'):>8}"
        )


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst (minimum) ratio over the JSON-compatible trees, per target notation and direction."""
    summary: dict[str, Any] = {}
    for n in TARGET_NOTATIONS:
        mine = [r for r in rows if r["codec"] == n and "parse_x_json-py" in r]
        if not mine:
            continue
        for op in ("parse", "emit"):
            summary[f"{n}_{op}_x_json-py_min"] = min(r[f"{op}_x_json-py"] for r in mine)
            summary[f"{n}_{op}_x_json-c_min"] = min(r[f"{op}_x_json-c"] for r in mine)
    return summary


def print_summary(summary: dict[str, Any]) -> bool:
    ok = True
    print("\nTarget: HLXL and LC-T parse and emit >= 1.0x pure-Python json (worst dataset shown)")
    for n in TARGET_NOTATIONS:
        for op in ("parse", "emit"):
            if f"{n}_{op}_x_json-py_min" not in summary:
                continue
            py, c = summary[f"{n}_{op}_x_json-py_min"], summary[f"{n}_{op}_x_json-c_min"]
            verdict = "ok" if py >= 1.0 else "BELOW TARGET"
            ok = ok and py >= 1.0
            print(f"  {n:5} {op:5}: {py:5.2f}x json-py  ({c:4.2f}x json-c, information)  {verdict}")
    return ok


def profile(notation: str, trees: dict[str, tuple[Any, bool]], seconds: float) -> None:
    """cProfile parse + emit of ``notation`` over every tree; print the top functions by own time."""
    emit, parse = codecs()[notation]
    ctx = pure_json() if notation == "json-py" else contextlib.nullcontext()
    texts = [(v, emit(v)) for v, ok in trees.values() if ok or not notation.startswith("json")]
    prof = cProfile.Profile()
    with ctx:
        deadline = time.perf_counter() + seconds
        prof.enable()
        while time.perf_counter() < deadline:
            for value, text in texts:
                emit(value)
                parse(text)
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small trees, fewer repeats (a few seconds)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument(
        "--profile", metavar="NOTATION", help="cProfile one codec (a notation, json-py or json-c)"
    )
    ap.add_argument("--repeats", type=int, default=None, help="best-of-N repeats (default 5, quick 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--datasets", metavar="A,B", help="only these trees (records,numbers,text,nested,hlx-only)"
    )
    args = ap.parse_args(argv)
    scale = 40 if args.quick else 400
    repeats = args.repeats or (3 if args.quick else 5)
    min_time = 0.02 if args.quick else 0.1
    trees = datasets(scale, args.seed)
    if args.datasets:
        trees = {k: v for k, v in trees.items() if k in args.datasets.split(",")}
    if args.profile:
        profile(args.profile, trees, 2.0 if args.quick else 10.0)
        return 0
    print(f"Python {platform.python_version()} on {platform.machine()}; scale={scale}, best of {repeats}")
    rows = [row for name, (value, ok) in trees.items() for row in measure(name, value, ok, repeats, min_time)]
    print_table(rows)
    summary = summarise(rows)
    ok = print_summary(summary)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "python": platform.python_version(),
                    "scale": scale,
                    "repeats": repeats,
                    "rows": rows,
                    "summary": summary,
                    "target_met": ok,
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
