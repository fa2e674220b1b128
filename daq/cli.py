"""The ``ssbench`` console script.

Each package contributes subcommands through ``<package>/cli.py:register(subparsers)``; those
modules import only argparse at load time and their heavy dependencies inside the handler, so
``ssbench --help`` is instant. A handler returns the exit code. User errors (bad files, bad
units, instrument faults) print one line and exit non-zero; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from daq import __version__

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
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, user_errors()):
            print(f"ssbench: error: {exc}", file=sys.stderr)
            return 2
        print(
            f"ssbench: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
