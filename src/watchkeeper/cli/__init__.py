"""The ``watchkeeper`` command: thin wrappers that parse arguments, call the library,
write files and set exit codes.

Each subsystem owns one module of commands (``spec_cmds``, ``monitor_cmds``, ...);
they are imported lazily so ``watchkeeper --help`` stays fast and a missing extra
produces an install hint instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["main"]

# module name -> the click commands/groups it exports (attribute names)
_COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "watchkeeper.cli.spec_cmds": ("init", "check", "generate", "test"),
    "watchkeeper.cli.monitor_cmds": ("up", "query", "tsdb"),
    "watchkeeper.cli.rules_cmds": ("rules",),
    "watchkeeper.cli.silence_cmds": ("silence",),
}


def _build() -> object:
    try:
        import click
    except ImportError:  # pragma: no cover - exercised only without the extra
        sys.stderr.write(
            "watchkeeper: the command line needs the 'monitor' or 'generate' extra: "
            "pip install 'watchkeeper[all]'\n"
        )
        raise SystemExit(2) from None

    from watchkeeper._version import __version__

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="watchkeeper")
    def cli() -> None:
        """Production monitoring for Python services, from one spec file."""

    for module_name, names in _COMMAND_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that subsystem's commands are not written yet
                continue
            raise
        for name in names:
            command = getattr(module, name, None)
            if isinstance(command, click.Command):
                cli.add_command(command)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``watchkeeper`` console script."""
    cli = _build()
    cli(args=argv)  # type: ignore[operator]
