"""Decrypted restricted inputs into a container without a host path: tmpfs folders filled over stdin.

Each topmost folder of the work dir that holds a private input gets a tmpfs of
its own in the container (nosuid, nodev, owned by the sandbox's user, sized to
what goes in plus some room for the notebooks), which hides the host's folder:
so the stream carries the private inputs and the folder's other files, read
from the host's work dir. The container's runner (``sandbox/runner.py``) reads
the stream from stdin (a JSON header line of paths and sizes, then the bytes in
that order) and writes the files before any notebook runs. The tmpfs goes with
the container: a kept (``--keep``) container has none of it once stopped.

What the notebooks write in such a folder stays in the tmpfs: it is not on the
host to compare or keep.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from repropack.errors import BadInput

#: Room each tmpfs has beyond the files sent into it, for what the notebooks write there.
SLACK_BYTES = 64 * 2**20
_CHUNK = 2**20


@dataclass(frozen=True)
class PrivateFolders:
    """The tmpfs folders (topmost folders of the work dir) and what the stream sends into them.

    ``files`` is every file to send, in stream order: package path -> plaintext (a private input) or the
    host work dir's file (another file of the folder). ``sizes`` is each folder's total.
    """

    folders: tuple[str, ...]
    files: Mapping[str, bytes | Path] = field(repr=False)
    sizes: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def tmpfs(self, container_work: str, uid: int, gid: int) -> dict[str, str]:
        """docker-py's ``tmpfs=`` entries: one per folder, mode 0700 for the sandbox's ``uid:gid``."""
        return {
            f"{container_work}/{folder}": (
                f"rw,nosuid,nodev,size={self.sizes[folder] + SLACK_BYTES},mode=0700,uid={uid},gid={gid}"
            )
            for folder in self.folders
        }

    def stream(self) -> Iterator[bytes]:
        """The header line, then each file's bytes; a host file is read as it is sent (never more than its size
        in the header)."""
        sizes = {
            path: len(data) if isinstance(data, bytes) else data.stat().st_size for path, data in self.files.items()
        }
        header = {"files": [{"path": path, "size": sizes[path]} for path in self.files]}
        yield json.dumps(header).encode("utf-8") + b"\n"
        for path, data in self.files.items():
            if isinstance(data, bytes):
                yield data
                continue
            left = sizes[path]
            with open(data, "rb") as fh:
                while left and (chunk := fh.read(min(_CHUNK, left))):
                    left -= len(chunk)
                    yield chunk
            if left:  # shorter than when listed: pad so the runner's framing stays whole
                yield b"\0" * left


def private_folders(work_dir: Path, private: Mapping[str, bytes]) -> PrivateFolders | None:
    """What to mount and send for the ``private`` inputs (package path -> plaintext), None when there are none.

    BadInput for a private input at the top level of the package: a tmpfs over the whole work dir would
    take the outputs with it.
    """
    if not private:
        return None
    refuse_top_level(list(private))
    folders = tuple(sorted({PurePosixPath(path).parts[0] for path in private}))
    files: dict[str, bytes | Path] = {}
    for folder in folders:
        files.update(_host_files(work_dir, folder))
    files.update(private)  # never a host file: prepare_work_dir left the private paths empty
    sizes = dict.fromkeys(folders, 0)
    for path, data in files.items():
        sizes[PurePosixPath(path).parts[0]] += len(data) if isinstance(data, bytes) else data.stat().st_size
    return PrivateFolders(folders, files, sizes)


def refuse_top_level(paths: Sequence[str]) -> None:
    """BadInput for a private input at the top level of the package: a tmpfs over the whole work dir would
    take the outputs with it."""
    top_level = sorted(path for path in paths if len(PurePosixPath(path).parts) < 2)
    if top_level:
        raise BadInput(
            f"{top_level[0]}: an encrypted input at the top of the package cannot be kept off the host's disk in "
            "the Docker sandbox; move it into a folder (e.g. data/) and export again, or use --backend local"
        )


def _host_files(work_dir: Path, folder: str) -> dict[str, Path]:
    """The regular files under ``work_dir / folder`` (package path -> file), links never followed."""
    found: dict[str, Path] = {}
    top = work_dir / folder
    if not top.is_dir() or top.is_symlink():
        return found
    for current, folder_names, file_names in os.walk(top):
        folder_names[:] = sorted(name for name in folder_names if not os.path.islink(os.path.join(current, name)))
        for name in sorted(file_names):
            file = Path(current) / name
            if stat.S_ISREG(os.lstat(file).st_mode):
                found[file.relative_to(work_dir).as_posix()] = file
    return found


def send_stream(api, container_id: str, folders: PrivateFolders) -> None:
    """Start the created container and send it ``folders``' stream on stdin through the engine's attach socket.

    A container that stops reading (its runner refused the stream, or died) ends the sending; its report
    says why. The attachment is closed after.
    """
    attached = api.attach_socket(container_id, params={"stdin": 1, "stream": 1})
    raw = getattr(attached, "_sock", attached)  # docker-py hands a SocketIO over the engine's socket
    try:
        api.start(container_id)
        for chunk in folders.stream():
            raw.sendall(chunk)
        try:
            raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    except OSError:
        pass  # the runner stopped reading: what it said is in its report
    finally:
        attached.close()
