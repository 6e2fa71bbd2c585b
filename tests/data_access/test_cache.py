"""The memory-mapped cache of decoded PTB-XL signals: hits, invalidation, stale entries, safety."""
import os
import shutil

import numpy as np
import pytest

from data_access.cache import CACHE_ENV, ArrayCache, default_cache_dir, fingerprint
from data_access.ptbxl import load_ptbxl


@pytest.fixture
def dataset(ptbxl_fixture_dir, tmp_path):
    root = tmp_path / "ptbxl"
    shutil.copytree(ptbxl_fixture_dir, root)
    return root


def _entries(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_second_load_is_served_from_memory_mapped_cache(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    first = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    assert len(_entries(cache_dir)) == 1
    second = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    assert isinstance(second.signals.base, np.memmap)             # backed by the .npy file
    np.testing.assert_array_equal(second.signals, first.signals)
    np.testing.assert_array_equal(second.labels, first.labels)
    np.testing.assert_array_equal(second.folds, first.folds)
    assert second.meta.index.tolist() == first.meta.index.tolist()
    # copy-on-write: callers may scale in place; the cache on disk is unchanged
    second.signals *= 0
    third = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    np.testing.assert_array_equal(third.signals, first.signals)
    # other rates / folds / preprocessing are separate entries
    load_ptbxl(dataset, fs=100, folds=(9, 10), cache_dir=cache_dir)
    load_ptbxl(dataset, fs=100, preprocess=False, cache_dir=cache_dir)
    assert len(_entries(cache_dir)) == 3


def test_changed_file_invalidates_and_replaces_the_entry(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    before = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    old = _entries(cache_dir)
    dat = dataset / "records100/00000/00017_lr.dat"
    data = bytearray(dat.read_bytes())
    data[2 * 12 * 500: 2 * 12 * 500 + 24] = bytes(24)           # one frame of 17 set to 0 V, same size
    dat.write_bytes(bytes(data))
    st = dat.stat()
    os.utime(dat, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # mtime moves even on coarse clocks
    after = load_ptbxl(dataset, fs=100, preprocess=False, cache_dir=cache_dir)
    i = after.ecg_ids.tolist().index(17)
    assert np.all(after.signals[i, :, 500] == 0)
    again = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    assert not np.array_equal(again.signals[i], before.signals[i])
    assert old[0] not in _entries(cache_dir)                      # the stale entry was deleted


def test_bad_records_are_cached_too(dataset, tmp_path):
    (dataset / "records100/00000/00045_lr.dat").unlink()
    cache_dir = tmp_path / "cache"
    first = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    second = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    assert [b["ecg_id"] for b in second.bad_records] == [45] == [b["ecg_id"] for b in first.bad_records]
    assert len(second.ecg_ids) == 9 and second.labels.shape == (9, 71)


def test_corrupt_entry_is_discarded_and_rebuilt(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    first = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    (cache_dir / _entries(cache_dir)[0] / "signals.npy").write_bytes(b"not an array")
    again = load_ptbxl(dataset, fs=100, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.signals, first.signals)


def test_cache_disabled_and_default_location(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    load_ptbxl(dataset, fs=100, cache_dir=False)
    assert not (tmp_path / "envcache").exists()
    load_ptbxl(dataset, fs=100)
    assert len(_entries(tmp_path / "envcache")) == 1
    assert not any(p.name.startswith(".protoecg") for p in dataset.iterdir())


def test_fingerprint_depends_on_size_mtime_and_params(tmp_path):
    f = tmp_path / "a.dat"
    f.write_bytes(b"12")
    k = fingerprint([f], {"fs": 100})
    assert fingerprint([f], {"fs": 100}) == k and fingerprint([f], {"fs": 500}) != k
    f.write_bytes(b"123")
    assert fingerprint([f], {"fs": 100}) != k
    f.unlink()
    assert fingerprint([f], {"fs": 100}) != k


def test_unwritable_cache_dir_degrades_to_no_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")                                       # a file where the folder should be
    cache = ArrayCache(blocker / "cache")
    assert cache.save("k", {"a": np.arange(3)}, {}) is None
    assert cache.load("k") is None
