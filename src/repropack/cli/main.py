"""The ``repropack`` command line: parse, call the pipeline, render. No logic here.

One module per command group; this one holds the group and the console entry.
"""

from __future__ import annotations

import sys

import click

from repropack import __version__
from repropack.cli import cache as cache_commands
from repropack.cli import disclose, govern, init, package, record, replay, repository, serve, signoff, tools
from repropack.ui.text import safe


def run() -> None:
    """Console-script entry: usage errors become one line on stderr and exit 2."""
    try:
        code = main.main(standalone_mode=False)
    except click.UsageError as error:
        where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        click.echo(f"repropack: error: {safe(error.format_message())}{safe(where)}", err=True)
        sys.exit(2)
    except click.Abort:
        click.echo("repropack: interrupted; nothing was written", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="repropack")
def main() -> None:
    """Make notebook results reproducible and checkable.

    \b
    Typical use:
      repropack export my-project              # run the notebooks, write my-project.crate.zip
      repropack check my-project.crate.zip     # hashes, schema, RO-Crate profiles
      repropack inspect my-project.crate.zip   # what is inside
      repropack replay my-project.crate.zip    # rebuild, re-run in a sandbox, compare, sign a record
      repropack verify-record my-project.crate.replay-20261124T101500Z
      repropack diff my-project.crate.replay-20261124T101500Z   # what differs, in full
      repropack disclose check my-project/outputs   # small counts and other disclosive cells, before release

    \b
    A repository of packages (for operators):
      repropack repository init --repository /srv/repository
      repropack import my-project.crate.zip      # refused when hostile; stored once; catalogued
      repropack search rainfall --author Sato    # full text over titles, people, keywords, file names
      repropack checkout pkg-3f9a1c2b7d4e -o my-project/
      repropack serve                            # a read-only web view on http://127.0.0.1:8000
      repropack govern run examples/govern/nightly.toml   # replay what a policy selects, on Dask
      repropack govern regressions               # packages whose verdict got worse, and why

    Exit codes: 0 success, 1 the check said no, 2 usage error or bad input,
    3 the work could not run.
    """


main.add_command(init.init)
main.add_command(package.export)
main.add_command(package.inspect)
main.add_command(package.check)
main.add_command(replay.replay)
main.add_command(replay.verify_record_command)
main.add_command(signoff.sign_off_command)
main.add_command(record.diff_command)
main.add_command(record.rejudge_command)
main.add_command(disclose.disclose)
main.add_command(tools.keys)
main.add_command(tools.base)
main.add_command(cache_commands.cache)
for command in repository.COMMANDS:
    main.add_command(command)
main.add_command(serve.serve)
main.add_command(govern.govern)
