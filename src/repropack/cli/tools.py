"""``keys`` and ``base``: the signing key and the base image, set up once per machine."""

from __future__ import annotations

from pathlib import Path

import click

from repropack.cli.common import run_pipeline, stderr
from repropack.sandbox.bases import KNOWN_PYTHONS
from repropack.ui.text import literal


@click.group()
def keys() -> None:
    """Manage the Ed25519 key that signs governed-run records, and the age identity that decrypts
    restricted inputs packed with `export --encrypt-to`."""


@keys.command("generate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the key pair (default: the user config dir).",
)
@click.option(
    "--name",
    help="Name of the pair's files, NAME.key and NAME.pub (default repropack), so one reviewer can keep several "
    "keys; records signed with it name it beside the key id.",
)
@click.option("--force", is_flag=True, help="Replace an existing key pair.")
def keys_generate(directory: Path | None, name: str | None, force: bool) -> None:
    """Make a signing key pair (NAME.key, mode 0600, and NAME.pub).

    \b
    Examples:
      repropack keys generate && repropack replay pkg.zip
      repropack keys generate --name office && repropack replay pkg.zip --key ~/.config/repropack/keys/office.key
    """
    from repropack.fs.shown_paths import shown_path
    from repropack.record.keys import DEFAULT_KEY_NAME, generate_key_pair

    pair = run_pipeline(lambda: generate_key_pair(directory, name=name or DEFAULT_KEY_NAME, force=force))
    click.echo(f"{pair.key_id}\n  private {shown_path(pair.private_path)}\n  public  {shown_path(pair.public_path)}")


@keys.command("identity")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the identity (default: the key folder of the user config dir, beside the signing key).",
)
@click.option("--name", help="Name of the identity file, NAME.age (default repropack).")
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing identity: what was encrypted to the old one can no longer be decrypted with it.",
)
def keys_identity(directory: Path | None, name: str | None, force: bool) -> None:
    """Make an age identity (NAME.age, mode 0600) and print its recipient on stdout.

    Give the recipient (age1...) to a package's author: `repropack export --encrypt-to age1...` then
    packs the restricted inputs encrypted to you, and `repropack replay --identity NAME.age` decrypts them.

    \b
    Examples:
      repropack keys identity
      repropack export . --restrict 'data/*.csv' --encrypt-to "$(repropack keys recipient)"
    """
    from repropack.encryption.identities import DEFAULT_IDENTITY_NAME, make_identity
    from repropack.fs.shown_paths import shown_path

    made = run_pipeline(lambda: make_identity(directory, name=name or DEFAULT_IDENTITY_NAME, force=force))
    click.echo(made.recipient)
    stderr.print(f"identity {literal(shown_path(made.path))} (keep it private; share the recipient above)")


@keys.command("recipient")
@click.argument("identity", type=click.Path(dir_okay=False, path_type=Path), required=False)
def keys_recipient(identity: Path | None) -> None:
    """Print the recipient (age1...) of an age identity file (default: the one `keys identity` made).

    \b
    Example:
      repropack keys recipient ~/.config/repropack/keys/repropack.age
    """
    from repropack.encryption.identities import read_identity

    click.echo(run_pipeline(lambda: read_identity(identity)).recipient)


@click.group()
def base() -> None:
    """Base images built from a Debian mirror (no registry needed)."""


@base.command("build")
@click.option(
    "--python",
    "python",
    type=click.Choice(KNOWN_PYTHONS),
    default=KNOWN_PYTHONS[0],
    show_default=True,
    help="Python of the image: 3.11 is Debian bookworm, 3.13 Debian trixie. A replay builds on the base whose Python is the recorded one when it is here.",
)
@click.option(
    "--tag",
    default=None,
    help="Image name:tag (default repropack/base:bookworm-py3.11 or repropack/base:trixie-py3.13).",
)
@click.option("--suite", default=None, help="Debian suite (default: the one whose python3 is --python).")
@click.option("--mirror", default="http://deb.debian.org/debian", show_default=True)
@click.option("--if-missing", is_flag=True, help="Do nothing when the image already exists.")
def base_build(python: str, tag: str | None, suite: str | None, mirror: str, if_missing: bool) -> None:
    """debootstrap a minimal Debian with Python and import it into the engine.

    \b
    Examples:
      repropack base build --if-missing
      repropack base build --python 3.13    # repropack/base:trixie-py3.13
    """
    from repropack.sandbox.bases import known_base
    from repropack.sandbox.docker.base_image import base_image_exists, build_base_image

    known = known_base(python)
    tag = tag or known.tag
    suite = suite or known.suite
    if if_missing and run_pipeline(lambda: base_image_exists(tag)):
        click.echo(f"{tag}: already present")
        return
    with stderr.status(
        f"Building {literal(tag)} (Python {python}) from {literal(mirror)} ({literal(suite)}); about a minute"
    ) as status:
        image_id = run_pipeline(
            lambda: build_base_image(
                tag,
                python=python,
                suite=suite,
                mirror=mirror,
                # debootstrap's lines may hold "[": shown as typed, never as markup (ui.text).
                on_line=lambda line: status.update(f"{literal(tag)}: {literal(line[:90])}"),
            )
        )
    click.echo(f"{tag}: {image_id}")
