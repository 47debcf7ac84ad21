"""``helixmoe convert`` / ``validate`` as a user runs them: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "helixmoe", *args], input=data, capture_output=True, timeout=60, check=False
    )


def test_convert_detects_and_converts() -> None:
    result = run("convert", "--to", "lc-r", "{14: {@0: 42}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "🜊14🜁0 42🜂\n"


def test_convert_from_stdin_and_forced_notation() -> None:
    result = run("convert", "--from", "lc-t", "--to", "hlxl", "-", stdin='{C:1000,0="search",1=@documents}\n')
    assert result.stdout.decode() == '{1000: {@0: "search", @1: &h_documents}}\n'


def test_convert_all_and_hex() -> None:
    result = run("convert", "--all", "[1, 2, 3]")
    out = result.stdout.decode().splitlines()
    assert out == [
        "hlxl: [1, 2, 3]",
        "lc-t: [1,2,3]",
        "lc-r: 🜃1, 2, 3🜄",
        "lc-b-text: [[0x01,0x02,0x03]]",
        "lc-b: 600003120100000012020000001203000000",
    ]
    hexed = run("convert", "--to", "lc-b", "--hex", "42")
    assert hexed.stdout.decode().strip() == "122a000000"


def test_convert_lc_b_binary_roundtrip_through_pipes() -> None:
    binary = run("convert", "--to", "lc-b", '{name: "Alice", age: 30}')
    assert binary.stdout == bytes.fromhex("7002046e616d65300005416c69636503616765121e000000")
    back = run("convert", "--from", "lc-b", "--to", "hlxl", "-", stdin=binary.stdout)
    assert back.stdout.decode().strip() == '{name: "Alice", age: 30}'


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("convert", "--to", "lc-t", "--from", "lc-t", '{C:1000 0="x"}'), "after the contract id"),
        (("convert", "--to", "lc-t", "[1, 2,]"), "trailing comma"),
        (("convert", "--to", "klingon", "[1]"), "--to 'klingon': unknown notation"),
        (("convert", "--from", "runes", "--to", "lc-r", "[1]"), "--from 'runes': unknown notation"),
        (("validate", "--notation", "nosuch", "[1]"), "--notation 'nosuch': unknown notation"),
        (("convert", "[1]"), "--to"),
        (("convert", "--from", "lc-b", "--to", "hlxl", "60"), "--from lc-b reads raw bytes from stdin"),
        (("validate", "--notation", "lc-r", "🜃1, 2"), "lc-r"),
    ],
)
def test_errors_are_messages_not_tracebacks(args: tuple[str, ...], needle: str) -> None:
    result = run(*args)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback" not in err
    assert err.startswith("error: ")
    assert needle in err


def test_validate_shows_caret() -> None:
    result = run("validate", "--notation", "lc-t", '{C:1000 0="x"}')
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines[-2].strip() == '{C:1000 0="x"}'
    assert lines[-1].index("^") == lines[-2].index("0=")
    ok = run("validate", "🜊14🜂")
    assert ok.returncode == 0
    assert ok.stdout.decode().strip() == "valid lc-r"
