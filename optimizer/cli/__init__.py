"""The ``stockplan`` command line: one module per command, registered on one app.

Exit codes: 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan within limits, 1 bug,
130 interrupted (Ctrl-C). A reader that closes the pipe early (``stockplan solve | head``)
changes nothing: the files are written before anything is printed, the rest of the
screen output is dropped and the command exits with its own code (0 when it succeeded).

A command's module is imported when that command runs (all of them for ``--help``), so
``stockplan solve`` does not load what only ``compare`` and ``evaluate`` need (their
policies import ``scipy.stats``, about a second of start-up).

Ctrl-C (``SIGINT``) at any moment prints one line, ``interrupted``, and exits 130: while
the modules load, at once; later as a ``KeyboardInterrupt`` that unwinds the command, so
a half-written output folder is removed (:func:`optimizer.report.write_outputs`); worker
processes ignore it and die with the main process
(:func:`optimizer.engines.children.die_with_parent`). A second Ctrl-C exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

#: The process that installed the handler (a forked worker inherits it and stays quiet).
_MAIN_PID = os.getpid()
#: Whether a command is running (a ``KeyboardInterrupt`` can then unwind it).
_running = False
#: Whether the one line was printed.
_said = False


def _exit_now(signum: int, frame: object) -> None:  # pragma: no cover - the second Ctrl-C
    os._exit(130)


def _on_sigint(signum: int, frame: object) -> None:
    """Ctrl-C: say ``interrupted`` once, then exit (while loading) or unwind the command."""
    global _said
    if os.getpid() != _MAIN_PID:  # a forked worker that did not ignore it
        os._exit(130)
    if not _said:
        _said = True
        os.write(2, b"interrupted\n")
    signal.signal(signal.SIGINT, _exit_now)
    if not _running:  # still importing: nothing to clean up, no traceback
        os._exit(130)
    raise KeyboardInterrupt


def _install() -> object | None:
    """Install :func:`_on_sigint` unless someone else (a debugger, pytest) handles Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set handlers (an app run from a thread)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        return signal.signal(signal.SIGINT, _on_sigint)
    return None


#: Run as the ``stockplan`` script: handle Ctrl-C from the first import on.
_SCRIPT = os.path.basename(sys.argv[0]).removesuffix(".exe") == "stockplan"
if _SCRIPT:
    _install()

import importlib  # noqa: E402

import typer  # noqa: E402
from typer.core import TyperCommand, TyperGroup  # noqa: E402

#: Each command and the module whose ``register(app)`` adds it, in ``--help`` order.
COMMANDS = {
    "solve": "optimizer.cli.solve",
    "validate": "optimizer.cli.validate",
    "evaluate": "optimizer.cli.evaluate",
    "compare": "optimizer.cli.compare",
    "generate": "optimizer.cli.generate",
    "convert": "optimizer.cli.convert",
    "demo": "optimizer.cli.demo",
}


def _process_start() -> float:
    """When this process started, on the :func:`time.monotonic` clock (now if unknown).

    Linux gives the start in clock ticks since boot (``/proc/self/stat``, field 22),
    on the clock ``CLOCK_BOOTTIME`` counts.
    """
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of the whole line
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):  # pragma: no cover - not Linux
        return now
    return now - age if 0.0 <= age < 60.0 else now


_started = time.monotonic()
_argv: list[str] = []


def command_started() -> float:
    """When the running command began, on the :func:`time.monotonic` clock.

    ``--time-limit`` counts from here: the process's start for ``stockplan ...``, the
    call for an app invoked in-process (tests).
    """
    return _started


def command_line() -> list[str]:
    """Return the running command's line, ``["stockplan", "solve", ...]`` (provenance)."""
    return ["stockplan", *_argv]


def _drop_stdout() -> None:
    """Send what is left of the screen output nowhere (its reader has gone)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout not a file
        pass


class LazyCommands(TyperGroup):
    """The app's commands, each built from its module on first use."""

    def main(self, *args, **kwargs):  # type: ignore[override]
        """Run the app; the ``--time-limit`` clock starts at the process start (script)."""
        global _started, _running, _said, _argv
        script = _SCRIPT and not args and "args" not in kwargs
        _started = _process_start() if script else time.monotonic()
        given = args[0] if args else kwargs.get("args")
        _argv = [str(a) for a in (sys.argv[1:] if given is None else given)]
        previous = _install()  # in-process callers get their own handler back
        _running, _said = True, False
        try:
            return super().main(*args, **kwargs)
        finally:
            _running = False
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        """Invoke the command; Ctrl-C exits 130, a closed stdout is not an error."""
        global _said
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if not _said:  # raised by something other than our handler
                _said = True
                typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            _drop_stdout()
            raise typer.Exit(0) from None

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """Return the commands in :data:`COMMANDS` order, then any registered directly."""
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        """Return the command ``cmd_name``, importing its module if it is one of ours."""
        registered = super().get_command(ctx, cmd_name)
        if registered is not None or cmd_name not in COMMANDS:
            return registered
        one = typer.Typer(add_completion=False)
        importlib.import_module(COMMANDS[cmd_name]).register(one)
        return typer.main.get_command(one)


app = typer.Typer(
    cls=LazyCommands,
    add_completion=False,
    no_args_is_help=True,
    help="Stocking plans that weigh Just-in-Time against Just-in-Case.",
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"stockplan {version('stockplan')}")
        except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
            typer.echo("stockplan (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Stocking plans that weigh Just-in-Time against Just-in-Case."""


def main() -> None:  # pragma: no cover
    """Run the command line."""
    app()
