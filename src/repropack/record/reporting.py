"""After a replay: write the signed governed-run record and the optional HTML copy."""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

from repropack.config import user_config
from repropack.record.governed_run import REPORT_FILE, Operator, default_record_path, write_governed_run
from repropack.record.keys import default_private_key, generate_key_pair


def signing_key(key: Path | None) -> Path:
    """The key to sign with: the one given, the user's default, or a new default pair."""
    if key is not None:
        return key
    existing = default_private_key()
    return existing if existing is not None else generate_key_pair().private_path


def finish_replay(result, *, record: Path | None, key: Path | None, html: Path | None):
    """Write the record (always) and copy its report to ``html`` when asked; returns ``result``."""
    replay_table = user_config().get("replay", {})
    operator = Operator.from_config(
        replay_table.get("operator") if isinstance(replay_table, dict) else None, getpass.getuser()
    )
    destination = record or default_record_path(result.package.source, result.started.strftime("%Y%m%dT%H%M%SZ"))
    write_governed_run(result, destination, operator, signing_key(key))
    if html is not None:
        shutil.copyfile(destination / REPORT_FILE, html)
    return result
