"""The `repbelt` command. Each command lives in a `cmd_*.py` module exposing COMMANDS."""
import importlib
import pkgutil
import sys

import click

from . import __version__
from .errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="repbelt")
def cli():
    """repbelt: a waist-worn rep counter for lower-back workouts."""


def _load_commands():
    pkg = importlib.import_module("repbelt")
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            try:
                mod = importlib.import_module("repbelt." + info.name)
            except Exception as e:  # noqa: BLE001 - reported in one line, other commands still work
                # one broken command module must not take every other command down
                click.echo("repbelt: commands in %s are unavailable: %s" % (info.name, e), err=True)
                continue
            for cmd in getattr(mod, "COMMANDS", ()):
                cli.add_command(cmd)


def main(argv=None):
    _load_commands()
    try:
        cli.main(args=argv, prog_name="repbelt", standalone_mode=False)
    except UserError as e:
        click.echo("repbelt: " + str(e), err=True)
        sys.exit(e.code)
    except click.exceptions.Abort:
        click.echo("repbelt: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("repbelt: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    return 0
