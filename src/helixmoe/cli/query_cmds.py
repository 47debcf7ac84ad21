"""``helixmoe query``, ``helixmoe route`` and ``helixmoe chat``: thin shells over :class:`HelixMoE`."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from helixmoe.errors import ConfigError, HelixMoEError
from helixmoe.hlx import HLXError

__all__ = ["register"]

SystemOpt = Annotated[
    Optional[Path], typer.Option("--system", "-s", help="System directory (default: built-in).")
]
RouterOpt = Annotated[
    Optional[str], typer.Option("--router", help="keyword | classifier | cascade | coordinator")
]
VerifyOpt = Annotated[
    Optional[str],
    typer.Option("--verify", help="off | flag | retry | oracle (default: the system's serving.verify)"),
]
ConstrainedOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--constrained/--no-constrained",
        help="Grammar-constrained decoding (default: the system's serving.constrained).",
    ),
]
MaxTokensOpt = Annotated[
    int, typer.Option("--max-new-tokens", min=1, help="Cap on generated tokens per answer.")
]
RetryOpt = Annotated[
    Optional[int],
    typer.Option(
        "--retry-branches",
        min=0,
        help="Alternatives --verify retry|oracle decodes per failed answer (default: serving.retry_branches).",
    ),
]
_HELP = """commands:  :route  last routing decision and scores   :expert NAME|auto  pin an expert
           :verify off|flag|retry|oracle   :help   quit / exit / Ctrl-D to leave"""


def _load(
    system: Optional[Path],
    router: Optional[str],
    verify: Optional[str] = None,
    constrained: Optional[bool] = None,
    max_new_tokens: int = 512,
    retry_branches: Optional[int] = None,
) -> Any:
    from helixmoe.system import HelixMoE

    _check_verify(verify)
    prepare_to_load(system, router)
    return HelixMoE.load(
        system,
        router=router,
        verify=verify,
        constrained=constrained,
        max_new_tokens=max_new_tokens,
        retry_branches=retry_branches,
    )


def _check_verify(verify: Optional[str]) -> None:
    """A ``--verify`` mistake is refused before the (slow) load."""
    from helixmoe.system.verify import POLICIES

    if verify is not None and verify not in POLICIES:
        raise ConfigError(f"--verify {verify!r}: expected one of {', '.join(POLICIES)}")


def prepare_to_load(system: Optional[Path], router: Optional[str]) -> None:
    """Refuse a ``--router`` mistake before anything loads; keep unused libraries and their noise out."""
    from helixmoe.cli.imports import leave_out_unused_libraries
    from helixmoe.cli.quiet import quiet_model_loading
    from helixmoe.routing import ROUTERS
    from helixmoe.system import default_system_path

    if router is not None and router not in ROUTERS:
        raise ConfigError(f"--router {router!r}: expected one of {', '.join(sorted(ROUTERS))}")
    leave_out_unused_libraries(system if system is not None else default_system_path())
    quiet_model_loading()


def _check_serving(system: Optional[Path], router: Optional[str]) -> list[str]:
    """The system's experts, once its layout and the ``--router`` it is asked for have been checked (the router
    alone is loaded for that, no model)."""
    from helixmoe.models.layout import check_system
    from helixmoe.system import default_system_path

    _load_router(system, router)
    return list(check_system(system if system is not None else default_system_path()).experts)


def _load_router(system: Optional[Path], router: Optional[str]) -> Any:
    """The system's serving router alone: its models are loaded only if a coordinator stage is asked."""
    from helixmoe.system import load_system_router

    prepare_to_load(system, router)
    return load_system_router(system, router=router)


def _request(text: str) -> str:
    """The request a command was given (``-``: all of stdin), refused before the (slow) load when no
    expert could answer it."""
    from helixmoe.system.core import check_requests

    if text == "-":
        text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape").rstrip("\n")
    check_requests([text])
    return text


def query(
    text: Annotated[
        str, typer.Argument(help="The request, e.g. 'Convert to LC-R: [1, 2, 3]'; - reads it from stdin.")
    ],
    system: SystemOpt = None,
    router: RouterOpt = None,
    expert: Annotated[Optional[str], typer.Option("--expert", "-e", help="Pin an expert.")] = None,
    verify: VerifyOpt = None,
    constrained: ConstrainedOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full answer as JSON.")] = False,
    max_new_tokens: MaxTokensOpt = 512,
    retry_branches: RetryOpt = None,
) -> None:
    """Answer one request with the routed expert (verified against the HLX oracle)."""
    text = _request(text)
    moe = _load(system, router, verify, constrained, max_new_tokens, retry_branches)
    answer = moe.answer(text, expert=expert)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(answer.text)
    flag = {True: "verified", False: "NOT verified", None: "unverifiable"}[answer.verified]
    extra = f", {answer.fallback_used} fallback" if answer.fallback_used else ""
    typer.echo(
        f"[{answer.expert} · {answer.route.confidence:.2f} · {flag}{extra} · "
        f"{answer.timings['total']:.0f} ms]",
        err=True,
    )


def route(
    text: Annotated[str, typer.Argument(help="The request to route; - reads it from stdin.")],
    system: SystemOpt = None,
    router: RouterOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Show which expert would answer a request, and how sure the router is."""
    text = _request(text)
    decision = _load_router(system, router).route(text)
    if as_json:
        typer.echo(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{decision.expert}  (confidence {decision.confidence:.3f}, router {decision.router})")
    for name, score in sorted(decision.scores.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  {name:<12} {score:.3f}")


def chat(
    system: SystemOpt = None,
    router: RouterOpt = None,
    verify: VerifyOpt = None,
    constrained: ConstrainedOpt = None,
    max_new_tokens: MaxTokensOpt = 512,
    retry_branches: RetryOpt = None,
) -> None:
    """Interactive session; reads line by line when stdin is not a terminal."""
    interactive = sys.stdin.isatty()

    def load() -> Any:
        return _load(system, router, verify, constrained, max_new_tokens, retry_branches)

    if interactive:
        # the prompt comes up at once and the system loads while the first request is typed (the load is
        # ~9 s on a 2-core machine, nearly all of it importing torch and transformers); option and system
        # mistakes are still refused before the prompt
        _check_verify(verify)
        experts = _check_serving(system, router)
        _enable_history()
        typer.echo(f"Helix MoE chat · experts: {', '.join(experts)} · :help for commands")
        session = _Session(_Loading(load).get, experts, verify)
    else:
        moe = load()
        session = _Session(lambda: moe, moe.experts, verify)
    number = 0
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        except KeyboardInterrupt:
            typer.echo("")
            break
        if not interactive and line == "":
            break
        number += 1
        session.line = None if interactive else number
        if not session.handle(line.strip()):
            break
    if interactive:
        typer.echo("bye")
    elif session.failed:  # a script with bad lines fails, as a shell script would
        lines = ", ".join(map(str, session.failed))
        typer.echo(f"error: {len(session.failed)} input line(s) failed: {lines} (see above)", err=True)
        raise typer.Exit(1)


class _Loading:
    """A system loading in a background thread; :meth:`get` waits for it (saying so once) and re-raises what
    stopped it (a broken weight file ends the chat with its one-line error, as a foreground load would)."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(load,), name="helixmoe-load", daemon=True).start()

    def _run(self, load: Callable[[], Any]) -> None:
        try:
            self._result = load()
        except BaseException as err:  # handed to the main thread by get()
            self._error = err
        finally:
            self._done.set()

    def get(self) -> Any:
        if not self._done.is_set():
            typer.echo("(loading the system …)", err=True)
            self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result


class _Session:
    """One chat's state: the pinned expert, the policy and the last decision. ``moe`` gives the loaded system
    (waiting for it if it is still loading); ``verify`` None is the system's own policy."""

    def __init__(self, moe: Callable[[], Any], experts: list[str], verify: str | None) -> None:
        self.moe = moe
        self.experts = experts
        self.verify = verify
        self.expert: str | None = None
        self.last: Any = None
        self.line: int | None = None  # the input line being handled, when the input is piped
        self.failed: list[int | None] = []  # the lines that gave an error (printed on stderr)

    def _fail(self, message: str) -> None:
        typer.echo(message if self.line is None else f"line {self.line}: {message}", err=True)
        self.failed.append(self.line)

    def handle(self, line: str) -> bool:
        """Act on one input line; False ends the session."""
        if not line:
            return True
        if line.lower() in ("quit", "exit", ":quit", ":q"):
            return False
        if line.startswith(":"):
            self._command(line)
            return True
        moe = self.moe()  # a system that failed to load ends the chat here (its error, exit 1)
        try:
            answer = moe.answer(line, expert=self.expert, verify=self.verify)
        except (HelixMoEError, HLXError) as err:
            self._fail(f"error: {err}")
            return True
        self.last = answer
        mark = {True: "✓", False: "✗", None: "·"}[answer.verified]
        typer.echo(f"{answer.expert}> {answer.text}  {mark}")
        return True

    def _command(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name == "route":
            if self.last is None:
                typer.echo("no request yet")
                return
            r = self.last.route
            scores = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r.scores.items(), key=lambda kv: -kv[1]))
            task = f"; task hint: {self.last.task}" if self.last.task else ""
            typer.echo(
                f"routed to {r.expert} by {r.router} (confidence {r.confidence:.3f}); scores: {scores}{task}"
            )
        elif name == "expert":
            if arg in ("", "auto"):
                self.expert = None
                typer.echo("expert: routed automatically")
            elif arg in self.experts:
                self.expert = arg
                typer.echo(f"expert pinned: {arg}")
            else:
                self._fail(f"unknown expert {arg!r}; choose one of {', '.join(self.experts)} or auto")
        elif name == "verify":
            if arg in ("off", "flag", "retry", "oracle"):
                self.verify = arg
                typer.echo(f"verify: {arg}")
            else:
                self._fail(f"unknown policy {arg!r}: verify takes off, flag, retry or oracle")
        elif name == "help":
            typer.echo(_HELP)
        else:
            self._fail(f"unknown command :{name} (:help lists them)")


def _enable_history() -> None:
    """Arrow-key editing and a history file, where the platform has readline."""
    try:
        import readline
    except ImportError:
        return
    path = Path.home() / ".helixmoe_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    import atexit

    atexit.register(lambda: _save_history(readline, path))


def _save_history(readline: Any, path: Path) -> None:
    with contextlib.suppress(OSError):
        readline.write_history_file(path)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.command("route")(route)
    app.command("chat")(chat)
