"""One writer per results folder: :class:`FolderLock` (``flock`` on ``.lock``, stale-lock
takeover).

Part of :mod:`simulations.store` (see there for the folder layout and the guarantees).
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import socket
import sys
import threading
import warnings


try:  # POSIX; elsewhere the pid/host check of ``.lock`` decides alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

from simulations.store.base import LOCK_FILE, FolderLockedError, StaleLockWarning, utc_now


# -- the lock -------------------------------------------------------------------------------

_HELD = {}
_HELD_GUARD = threading.Lock()


def _proc_start(pid):
    """Start time of process ``pid`` in clock ticks since boot (Linux), or ``None``."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid, proc_start=None):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    if proc_start is not None:
        now = _proc_start(pid)
        if now is not None and now != proc_start:
            return False  # the pid was reused by another process
    return True


def _describe_holder(info):
    argv = " ".join(str(a) for a in info.get("argv") or [])
    if len(argv) > 100:
        argv = argv[:97] + "..."
    started = info.get("started") or "?"
    return (f"pid {info.get('pid', '?')} on host {info.get('host', '?')}, started {started}"
            + (f": {argv}" if argv else ""))


class FolderLock:
    """Exclusive lock of a results folder, naming its holder (see the module docstring).

    Re-entrant within one thread (the command line locks every folder of ``reproduce`` up
    front; the store then re-enters the same lock); another thread, process or host is
    refused with :class:`FolderLockedError`.

    Parameters
    ----------
    folder : path-like
        The folder (created if missing).

    Examples
    --------
    >>> import tempfile
    >>> with FolderLock(tempfile.mkdtemp()) as lock:
    ...     lock.held
    True
    """

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.path = self.folder / LOCK_FILE
        self.held = False
        self._fd = None
        self._key = None

    def acquire(self):
        """Take the lock or raise :class:`FolderLockedError`; return ``self``."""
        if self.held:
            return self
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is where the results folder "
                                     "should be", str(self.folder))
        self.folder.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.folder)
        me = threading.get_ident()
        with _HELD_GUARD:
            entry = _HELD.get(key)
            if entry is not None:
                if entry["thread"] != me:
                    raise FolderLockedError(f"{self.folder} is in use by another thread of this "
                                            f"process (pid {os.getpid()})")
                entry["count"] += 1
                self.held, self._key = True, key
                return self
            fd = self._lock_file()
            _HELD[key] = {"thread": me, "count": 1, "fd": fd}
        self.held, self._key = True, key
        return self

    def _lock_file(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            flocked = False
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    flocked = True
                except BlockingIOError:
                    holder = self._holder(fd)
                    raise FolderLockedError(
                        f"{self.folder} is in use by another run ("
                        f"{_describe_holder(holder) if holder else 'holder unknown'}); wait for "
                        "it to finish or stop it, or use another --out folder") from None
                except OSError as exc:
                    if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS,
                                         errno.EINVAL):
                        raise
            previous = self._holder(fd)
            if previous:
                self._check_previous(previous, flocked)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": utc_now(),
                    "argv": list(sys.argv), "proc_start": _proc_start(os.getpid())}
            data = (json.dumps(info) + "\n").encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _holder(self, fd):
        """The holder recorded in ``.lock``: ``None`` if empty, ``{"garbled": True}`` if unreadable."""
        try:
            raw = os.pread(fd, 65536, 0)
        except OSError:
            raw = b"?"
        if not raw.strip():
            return None
        try:
            info = json.loads(raw)
        except ValueError:
            info = None
        return info if isinstance(info, dict) else {"pid": "?", "host": "?", "garbled": True}

    def _check_previous(self, previous, flocked):
        host = socket.gethostname()
        if previous.get("garbled"):
            if not flocked:
                raise FolderLockedError(f"{self.folder} has an unreadable lock file {self.path} and "
                                        "locking is unavailable here; if no run is active, delete it")
            warnings.warn(f"took over the lock of {self.folder} (its lock file was unreadable and "
                          "nobody held it)", StaleLockWarning, stacklevel=5)
            return
        if previous.get("host") != host:
            raise FolderLockedError(
                f"{self.folder} is locked by {_describe_holder(previous)}, which cannot be "
                f"checked from host {host}; if no run is active there, delete {self.path}")
        alive = _pid_alive(previous.get("pid"), previous.get("proc_start")) \
            if isinstance(previous.get("pid"), int) else False
        if alive and not flocked:
            raise FolderLockedError(
                f"{self.folder} is in use by another run ({_describe_holder(previous)}); wait "
                "for it to finish or stop it, or use another --out folder")
        state = "not running" if not alive else "alive but no longer holding it"
        warnings.warn(f"took over the stale lock of {self.folder} left by "
                      f"{_describe_holder(previous)} ({state})", StaleLockWarning, stacklevel=5)

    def release(self):
        """Release the lock (the holder record in ``.lock`` is cleared)."""
        if not self.held:
            return
        self.held = False
        with _HELD_GUARD:
            entry = _HELD.get(self._key)
            if entry is None:
                return
            entry["count"] -= 1
            if entry["count"] > 0:
                return
            del _HELD[self._key]
            fd = entry["fd"]
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
