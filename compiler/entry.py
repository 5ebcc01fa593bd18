"""The console script's entry point: answers --version without importing the CLI stack."""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from . import __version__

        sys.stdout.write(f"hagen {__version__}\n")
        return
    from .cli import main as cli_main

    cli_main()
