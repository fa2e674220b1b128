"""The ``ssbench`` console script.

Each package contributes subcommands through ``<package>/cli.py:register(subparsers)``; those
modules import only argparse at load time and their heavy dependencies inside the handler, so
``ssbench --help`` is instant. A handler returns the exit code. User errors (bad files, bad
units, instrument faults) print one line and exit non-zero. Anything else is a bug: one line
with the hint, and the traceback goes to a log file next to the run (``--debug`` shows it instead).

SIGTERM and SIGHUP are handled from the first line of ``main`` (``daq.terminate``): before a
run's engine installs its own policy (abort to the safe state), a signal raises ``Terminated``,
which unwinds the open station and any run file like any other error, and ``main`` exits
``128 + signal`` with one line.
"""

from __future__ import annotations

# ruff: noqa: E402 - the import-time signal policy is set before the other imports
import os
import sys

from daq.terminate import exit_quietly_until_main

if __name__ == "__main__" or os.path.basename(sys.argv[0] if sys.argv else "") == "ssbench":
    exit_quietly_until_main()  # first: a signal during the imports below ends quietly


import argparse
import importlib
import logging
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from daq import __version__
from daq.terminate import Terminated, terminate_on_signals

#: packages whose ``cli.register`` adds subcommands, in help order
SUBCOMMAND_MODULES = (
    "daq.cli_station",
    "daq.cli_info",
    "daq.cli_run",
    "sim_instruments.cli",
    "analysis.cli",
    "analysis.cli_eis",
    "gui.cli",
)


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that are the user's input or the instrument's doing, not a bug."""
    from daq.runfile import RunFileError
    from daq.units import UnitError
    from daq.yamlconfig import ConfigError
    from drivers.errors import InstrumentError

    extra: list[type[BaseException]] = []
    for path in ("protocols.errors:ProtocolError", "analysis.errors:AnalysisError"):
        module, _, name = path.partition(":")
        try:
            extra.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return (ConfigError, RunFileError, UnitError, InstrumentError, FileNotFoundError, *extra)


def log_folder(args: argparse.Namespace) -> Path:
    """Where the traceback of an internal error goes: next to the run the command works on."""
    for attr in ("out", "run_file", "run"):
        value = getattr(args, attr, None)
        if isinstance(value, str) and value:
            path = Path(value)
            folder = path if attr == "out" else path.parent
            if folder.is_dir() and os.access(folder, os.W_OK):
                return folder
    return Path.cwd() if os.access(Path.cwd(), os.W_OK) else Path(tempfile.gettempdir())


def write_error_log(args: argparse.Namespace, exc: BaseException) -> Path | None:
    """Write the command line and traceback of ``exc`` to ``ssbench-error-<UTC>.log``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    text = (f"ssbench {__version__} internal error at {stamp}\ncommand: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(exc)))  # fmt: skip
    for folder in (log_folder(args), Path(tempfile.gettempdir())):
        path = folder / f"ssbench-error-{stamp}.log"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError:
            continue
        return path
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssbench",
        description="Bench suite for solid-state lithium-metal cells: drive instruments, run "
        "protocols, record to HDF5, analyse.",
    )
    parser.add_argument("--version", action="version", version=f"ssbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        try:
            importlib.import_module(module).register(subparsers)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with terminate_on_signals():
            return _main(argv)
    except Terminated as exc:  # outside _main's own handling (parsing, importing commands)
        print(f"ssbench: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("ssbench: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # each call logs to the stderr of now (main() also runs in-process)
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("ssbench: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"ssbench: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, user_errors()):
            print(f"ssbench: error: {exc}", file=sys.stderr)
            return 2
        log = write_error_log(args, exc)
        where = f"traceback in {log}; " if log else ""
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        print(f"ssbench: internal error: {type(exc).__name__}: {first} ({where}rerun with --debug "
              "for details, and please send the log with a bug report)", file=sys.stderr)  # fmt: skip
        return 3


if __name__ == "__main__":
    sys.exit(main())
