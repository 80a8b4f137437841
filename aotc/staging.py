"""All-or-nothing placement of files: write everything beside its destination, then rename.

A `Staging` collects temporary files and directories, each written next to where it
belongs (so the final rename stays on one filesystem and is atomic), and `commit` renames
them into place as one transaction: a destination that already held a file is first
hard-linked to a backup, and if any rename fails, the ones done so far are undone (old
files restored, new ones moved back to their temporary names). `discard`, in a `finally`,
removes every temporary, backup and directory the staging created. Every OSError leaves as
a `WriteError` naming the destination it was for.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Staging", "WriteError", "write_file"]


class WriteError(OSError):
    """A file or directory could not be written: an OSError (errno and filename kept)
    whose message names the destination and says why."""

    def __init__(self, path: Path, error: OSError):
        reason = error.strerror or str(error)
        culprit = Path(error.filename) if isinstance(error.filename, str) else None
        if culprit is not None and culprit != path and culprit in path.parents:
            reason += f" ({culprit})"
        super().__init__(error.errno, reason, str(path))
        self.path = path
        self.message = f"cannot write {path}: {reason}"

    def __str__(self) -> str:
        return self.message


@contextmanager
def writing(path: Path):
    """Turn an OSError raised while producing `path` into a WriteError naming it."""
    try:
        yield
    except OSError as e:
        raise WriteError(path, e) from None


def write_file(path: Path, data: bytes) -> None:
    """Create `path` (which must not exist) holding `data`."""
    _write_all(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), data)


def _write_all(fd: int, data: bytes, mode: int | None = None) -> None:
    """os.write until all of `data` is written (after fchmod to `mode`, if given), then
    close `fd`: a full disk is an error here (os.write raises ENOSPC), never a silently
    truncated file."""
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class Staging:
    """Temporaries beside their destinations, placed by `commit` or removed by `discard`."""

    def __init__(self):
        self._created_dirs: list[Path] = []  # parents we made, outermost first
        self._temporaries: list[Path] = []  # files and directories to remove on discard
        self._moves: list[tuple[Path, Path]] = []  # (temporary, destination), commit order

    def _parent(self, path: Path) -> Path:
        """Make the missing parents of `path` one by one, remembering each one made."""
        for directory in reversed(path.parents):
            if directory.is_dir():
                continue
            if os.path.lexists(directory):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))
            try:
                os.mkdir(directory)
            except FileExistsError:
                if not directory.is_dir():
                    raise
                continue  # made meanwhile by someone else: not ours to remove
            self._created_dirs.append(directory)
        return path.parent

    def directory_beside(self, destination: Path) -> Path:
        """A new empty directory beside `destination`, to be renamed to it (or, if it is
        an existing directory then, whose files are renamed into it one by one)."""
        with writing(destination):
            parent = self._parent(destination)
            tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=parent))
            self._temporaries.append(tmp)
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; artifacts are meant to be shared
        self._moves.append((tmp, destination))
        return tmp

    def file_beside(self, destination: Path, data: bytes) -> None:
        """Write `data` to a temporary file beside `destination`, to be renamed to it."""
        with writing(destination):
            parent = self._parent(destination)
            fd, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=parent)
            self._temporaries.append(Path(name))
            _write_all(fd, data, 0o644)  # mkstemp makes it 0600; artifacts are shared
        tmp = Path(name)
        self._moves.append((tmp, destination))

    def commit(self) -> None:
        """Rename every temporary into place; all of them or, on an error, none."""
        done: list[tuple[Path, Path, Path | None]] = []  # (temporary, destination, backup)
        try:
            for tmp, destination in self._renames():
                with writing(destination):
                    backup = self._backup(destination)
                    os.replace(tmp, destination)
                done.append((tmp, destination, backup))
        except WriteError:
            _undo(done)
            raise
        for _, _, backup in done:
            if backup is not None:
                backup.unlink(missing_ok=True)
        self._created_dirs.clear()  # they hold our files now

    def discard(self) -> None:
        """Remove every temporary and every directory this staging made (a no-op for the
        files `commit` placed)."""
        for tmp in reversed(self._temporaries):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        for directory in reversed(self._created_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass  # not empty: something else lives there now
        self._created_dirs.clear()

    def _renames(self):
        """The renames of the commit: a directory whose destination does not exist is
        renamed whole; one whose destination is a directory now gives its files instead."""
        for tmp, destination in self._moves:
            if tmp.is_dir() and os.path.lexists(destination):
                for path in sorted(tmp.iterdir()):
                    yield path, destination / path.name
            else:
                yield tmp, destination

    def _backup(self, destination: Path) -> Path | None:
        """A hard link (or, where links are not allowed, a copy) of an existing file at
        `destination`, so that a failed commit can put it back."""
        if not os.path.lexists(destination) or destination.is_dir():
            return None  # a directory: os.replace onto it fails, nothing to restore
        while True:
            backup = destination.parent / f".{destination.name}.{secrets.token_hex(6)}.bak"
            try:
                os.link(destination, backup, follow_symlinks=False)
                break
            except FileExistsError:
                continue  # that name is taken: draw another
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                if not os.path.lexists(backup):
                    # a filesystem without hard links: copy (a symlink stays a symlink)
                    shutil.copy2(destination, backup, follow_symlinks=False)
                    break
        self._temporaries.append(backup)
        return backup


def _undo(done: list[tuple[Path, Path, Path | None]]) -> None:
    """Reverse the renames of a failed commit, last first; best effort (an error here
    cannot be reported better than the one that caused it)."""
    for tmp, destination, backup in reversed(done):
        try:
            os.replace(destination, tmp)  # ours goes back to its temporary name
            if backup is not None:
                os.replace(backup, destination)
        except OSError:
            pass
