"""A disk cache of decoded arrays, stored as ``.npy`` files and returned memory-mapped.

An entry is keyed by a SHA-256 of the input files' paths, sizes and modification times plus the
parameters that shaped the arrays (sampling rate, preprocessing...). When any input file changes, its
key changes, so a stale entry can never be returned; entries made for the same *spec* (dataset root,
rate, folds...) with an older key are deleted when a new one is written.

Entries are written to a temporary folder and renamed into place, so a crash or a concurrent writer
never leaves a half-written entry that a reader would trust. Arrays come back with ``mmap_mode="c"``
(copy-on-write): callers may modify them in memory, the files on disk are never touched.

Where the cache lives (first that applies): the ``cache_dir`` argument; the ``PROTOECG_CACHE_DIR``
environment variable; ``$XDG_CACHE_HOME/protoecg`` (default ``~/.cache/protoecg``). Never inside the
dataset folder: datasets are often read-only, and a repository's test fixtures must stay clean.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CACHE_ENV = "PROTOECG_CACHE_DIR"
CACHE_VERSION = 1
_INFO = "info.json"


def default_cache_dir() -> Path:
    """The cache folder to use when the caller gives none (see the module docstring for the order)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "protoecg"


def fingerprint(files: Iterable[str | Path], params: Mapping[str, Any]) -> str:
    """SHA-256 over ``params`` and each file's absolute path, size and mtime (missing files count too)."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, **params}, sort_keys=True, default=str).encode())
    for f in files:
        p = os.path.abspath(f)
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class ArrayCache:
    """A folder of cache entries, each a set of named arrays plus a JSON ``info`` dict."""

    directory: Path

    def _entry(self, key: str) -> Path:
        return Path(self.directory) / key

    def load(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The arrays (memory-mapped, copy-on-write) and info of entry ``key``, or ``None`` on a miss."""
        entry = self._entry(key)
        info_path = entry / _INFO
        if not info_path.is_file():
            return None
        try:
            info = json.loads(info_path.read_text())
            arrays = {name: np.load(entry / f"{name}.npy", mmap_mode="c", allow_pickle=False).view(np.ndarray)
                      for name in info["arrays"]}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("discarding unreadable cache entry %s (%s)", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        log.debug("cache hit %s", entry)
        return arrays, info

    def save(self, key: str, arrays: Mapping[str, np.ndarray], info: Mapping[str, Any],
             spec: Mapping[str, Any] | None = None) -> Path | None:
        """Write an entry atomically; drop older entries with the same ``spec``. ``None`` if not writable."""
        entry = self._entry(key)
        spec_json = json.loads(json.dumps(dict(spec or {}), sort_keys=True, default=str))
        full_info = {**info, "arrays": sorted(arrays), "spec": spec_json, "key": key}
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=self.directory))
            for name, arr in arrays.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
            (tmp / _INFO).write_text(json.dumps(full_info, default=str))
            try:
                os.rename(tmp, entry)
            except OSError:  # another process wrote the same entry first: theirs is as good
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:
            log.warning("could not write cache entry in %s (%s); continuing without cache", self.directory, exc)
            return None
        if spec_json:
            self._drop_stale(key, spec_json)
        return entry

    def _drop_stale(self, key: str, spec: dict[str, Any]) -> None:
        for other in Path(self.directory).iterdir():
            if other.name == key or other.name.startswith(".") or not (other / _INFO).is_file():
                continue
            try:
                if json.loads((other / _INFO).read_text()).get("spec") == spec:
                    log.info("removing stale cache entry %s (its input files changed)", other)
                    shutil.rmtree(other, ignore_errors=True)
            except (OSError, ValueError):
                continue

    def clear(self) -> int:
        """Delete every entry; returns how many were removed."""
        n = 0
        if Path(self.directory).is_dir():
            for other in Path(self.directory).iterdir():
                if other.is_dir():
                    shutil.rmtree(other, ignore_errors=True)
                    n += 1
        return n
