"""``helixmoe query / route / chat`` as a user runs them: real processes, piped stdin and a pty."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helixmoe", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_query_json_and_oracle(tiny_system: Path) -> None:
    result = run(
        "query",
        "Convert to LC-R: [1, 2, 3]",
        "--system",
        str(tiny_system),
        "--verify",
        "oracle",
        "--json",
        "--max-new-tokens",
        "24",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["specialist"] == "runic"
    assert answer["response"] == "🜃1, 2, 3🜄" and answer["verified"] is True


def test_query_constrained_flag_overrides_the_system(tiny_system: Path) -> None:
    from helixmoe import hlx

    args = ["query", "Convert to LC-R: [1, 2, 3]", "--system", str(tiny_system), "--verify", "off", "--json"]
    result = run(*args, "--max-new-tokens", "24", "--constrained")
    assert result.returncode == 0, result.stderr
    # the grammar held the untrained model to a canonical LC-R value
    hlx.loads(json.loads(result.stdout)["response"], "lc-r", strict=True)


def test_route_prints_scores(tiny_system: Path) -> None:
    result = run("route", "What is 15 + 27?", "--system", str(tiny_system))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("math")
    assert "coordinator" in result.stdout


def test_missing_system_is_a_clear_error(tmp_path: Path) -> None:
    result = run("query", "hello", "--system", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "nope" in result.stderr


def test_a_bad_request_is_one_line_on_stderr(tiny_system: Path) -> None:
    """No weight-loading bar or library deprecation notice buries the error."""
    result = run("query", "  ", "--system", str(tiny_system))
    assert result.returncode == 1
    assert result.stderr == "error: the request is empty\n"
    result = run("query", "hi", "--system", str(tiny_system), "--verify", "sometimes")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --verify 'sometimes': expected one of off, flag")
    result = run("route", "hi", "--system", str(tiny_system), "--router", "oracle")
    assert result.returncode == 1 and "error: --router 'oracle'" in result.stderr


def test_a_request_is_refused_before_the_system_loads(tmp_path: Path) -> None:
    """An empty request is refused at once, even naming a system that does not exist (no load first)."""
    result = run("query", "", "--system", str(tmp_path / "nope"))
    assert result.returncode == 1 and result.stderr == "error: the request is empty\n"


def test_a_dash_reads_the_request_from_stdin(tiny_system: Path) -> None:
    args = ["--system", str(tiny_system)]
    result = run(
        "query",
        "-",
        *args,
        "--verify",
        "oracle",
        "--json",
        "--max-new-tokens",
        "24",
        stdin="Convert to LC-R: [1, 2, 3]\n",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["response"] == "🜃1, 2, 3🜄" and answer["specialist"] == "runic"
    result = run("route", "-", *args, stdin="What is 15 + 27?")
    assert result.returncode == 0 and result.stdout.startswith("math"), result.stderr
    result = run("query", "-", *args, stdin="\n")
    assert result.returncode == 1 and result.stderr == "error: the request is empty\n"


def test_chat_reads_piped_stdin_line_by_line(tiny_system: Path) -> None:
    script = "Convert to LC-T: [1]\n:route\n:expert math\n:expert wizard\n:verify oracle\nConvert to LC-T: [1]\n:bogus\nquit\nnever read\n"
    result = run("chat", "--system", str(tiny_system), "--max-new-tokens", "24", stdin=script)
    out = result.stdout.splitlines()
    assert out[0].startswith("ascii> ")
    assert out[1].startswith("routed to ascii by cascade>classifier")
    assert out[2] == "expert pinned: math"
    assert out[3] == "verify: oracle"
    assert out[4] == "math> [1]  ✓"  # pinned expert, oracle fallback gives the verified answer
    assert len(out) == 5  # "quit" ended the session before the last line
    # bad lines go to stderr, and a script with bad lines fails
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith("line 4: unknown expert 'wizard'")  # each says which input line it is
    assert errors[1].startswith("line 7: unknown command :bogus")
    assert errors[2] == "error: 2 input line(s) failed: 4, 7 (see above)"
    assert len(errors) == 3 and "Traceback" not in result.stderr
    clean = run("chat", "--system", str(tiny_system), "--max-new-tokens", "8", stdin=":expert ascii\nexit\n")
    assert clean.returncode == 0 and clean.stdout == "expert pinned: ascii\n" and clean.stderr == ""


def test_chat_in_a_terminal_leaves_on_ctrl_d(tiny_system: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on a real terminal
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-m",
                "helixmoe",
                "chat",
                "--system",
                str(tiny_system),
                "--verify",
                "oracle",
                "--max-new-tokens",
                "24",
            ],
        )
    seen = b""

    def read_until(marker: bytes, count: int = 1, timeout: float = 240.0) -> bytes:
        nonlocal seen
        end = time.monotonic() + timeout
        while seen.count(marker) < count and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        return seen

    assert b"you> " in read_until(b"you> ")
    os.write(fd, b"Convert to LC-R: [7]\n")
    assert "🜃7🜄".encode() in read_until("🜃7🜄".encode())
    # the prompt came up before the system had loaded (importing torch alone takes longer than typing this)
    assert seen.index(b"(loading the system") < seen.index("🜃7🜄".encode())
    assert read_until(b"you> ", count=2).count(b"you> ") == 2  # the next prompt is up
    os.write(fd, b"\x04")  # Ctrl-D on an empty line
    assert b"bye" in read_until(b"bye")
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_serving_commands_leave_out_bitsandbytes_unless_the_base_is_quantized(
    tiny_system: Path, tmp_path: Path
) -> None:
    """``peft`` imports bitsandbytes (and torch's compiler stack) whenever it is installed; a command serving an
    unquantized system blocks it (2.3 s of a cold query), one serving a quantized system does not."""
    import yaml

    code = (
        "import sys; from typer.testing import CliRunner; from helixmoe.cli.app import app; "
        "r = CliRunner().invoke(app, sys.argv[1:]); "
        "print(r.exit_code, r.stdout.split()[0], sys.modules.get('bitsandbytes', 'absent'))"
    )
    args = ["route", "Convert to LC-R: [1]", "--system", str(tiny_system)]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last == "0 runic None", result.stdout  # routed (the system loaded), bitsandbytes blocked
    quantized = tmp_path / "quantized"
    quantized.mkdir()
    config = yaml.safe_load((tiny_system / "system.yaml").read_text())
    config["model"]["quantization"] = "4bit"
    (quantized / "system.yaml").write_text(yaml.safe_dump(config))
    check = (
        "import sys; from pathlib import Path; from helixmoe.cli.imports import leave_out_unused_libraries; "
        f"leave_out_unused_libraries(Path({str(quantized)!r})); print(sys.modules.get('bitsandbytes', 'absent'))"
    )
    kept = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert kept.stdout.strip() == "absent", kept.stderr  # left importable for the 4-bit base


def test_chat_in_a_terminal_reports_a_system_that_fails_to_load(tiny_system: Path, tmp_path: Path) -> None:
    """The system loads while the first request is typed; weights that fail to load end the chat there with
    their one-line error and exit 1, as a load before the prompt would."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_system, broken)
    weights = broken / "base" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "helixmoe", "chat", "--system", str(broken)])
    seen = b""
    end = time.monotonic() + 240
    sent = False
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not sent and b"you> " in seen:
            os.write(fd, b"Convert to LC-R: [7]\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 1
    text = seen.decode(errors="replace")
    assert "error: " in text and "cannot load the base model" in text and "Traceback" not in text


def test_background_loading_hands_back_the_system_or_its_error() -> None:
    from helixmoe.cli.query_cmds import _Loading
    from helixmoe.errors import SystemLoadError

    assert _Loading(lambda: "system").get() == "system"

    def broken() -> None:
        raise SystemLoadError("base: bad weights")

    with pytest.raises(SystemLoadError, match="base: bad weights"):
        _Loading(broken).get()
