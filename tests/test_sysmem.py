"""Memory helpers: the cycle collector paused for a block; freed pages trimmed only in a large process."""

from __future__ import annotations

import gc

import pytest

from dedup._sysmem import collector_paused


def test_collector_paused_for_the_block_and_restored_after_it():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled()  # also after an error


def test_collector_left_off_when_it_was_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_freed_memory_is_trimmed_only_past_the_peak_threshold(monkeypatch):
    from dedup import _sysmem

    calls = []

    class FakeLibc:
        def malloc_trim(self, pad):
            calls.append(pad)

    monkeypatch.setattr(_sysmem, "_libc", lambda: FakeLibc())
    peak = _sysmem.peak_resident_bytes()
    assert peak > 1 << 20  # a Python process with numpy holds more than a megabyte
    monkeypatch.setattr(_sysmem, "TRIM_ABOVE", peak + (1 << 30))
    _sysmem.release_freed_memory()
    assert calls == []  # a small process: nothing to hand back worth a trim
    monkeypatch.setattr(_sysmem, "TRIM_ABOVE", peak)
    _sysmem.release_freed_memory()
    assert calls == [0]


def _random_rows(n, n_cols, seed):
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    x = sp.random(n, n_cols, density=0.05, format="csr", dtype=np.float32, random_state=rng)
    keep = np.ones(n, dtype=np.float32)
    keep[3] = 0  # an empty row among them
    x = (sp.diags(keep) @ x).tocsr()
    x.eliminate_zeros()
    x.sum_duplicates()
    return x


@pytest.mark.parametrize("where", ["file", "unwritable"])
def test_row_file_gives_back_the_rows_appended(where, tmp_path):
    import numpy as np
    import scipy.sparse as sp

    from dedup._sysmem import RowFile

    x = _random_rows(300, 500, seed=1)
    folder = tmp_path / ("missing" if where == "unwritable" else "rows")
    if where == "file":
        folder.mkdir()
    rows = RowFile(500, np.float32, dir=str(folder))
    for lo, hi in ((0, 10), (10, 10), (10, 170), (170, 300)):  # an empty block too
        rows.append(x[lo:hi])
    assert rows.shape == x.shape and rows.nnz == x.nnz
    assert rows.spilled == (where == "file")
    if where == "file":
        assert [d.name[:11] for d in folder.iterdir()] == ["dedup-rows-"]
    assert np.array_equal(rows.indptr, x.indptr)
    for lo, hi in ((0, 300), (5, 6), (3, 4), (150, 299), (7, 7)):
        part = rows.read(lo, hi)
        assert part.shape == (hi - lo, 500) and (part != x[lo:hi]).nnz == 0
    with rows.mapped() as m:
        assert (m.matrix != x).nnz == 0
        m.release()  # pages let go: the values are read again from the file
        assert np.array_equal(m.matrix[[3, 299, 0]].toarray(), x[[3, 299, 0]].toarray())
    assert m.matrix is None
    rows.close()
    assert not folder.exists() or list(folder.iterdir()) == []
    with pytest.raises(ValueError, match="sorted, duplicate-free"):
        RowFile(4).append(sp.csr_matrix((np.ones(2), np.array([1, 1]), np.array([0, 2])), shape=(1, 4)))


def test_row_file_keeps_the_rows_in_memory_when_a_write_fails(tmp_path, monkeypatch):
    import numpy as np

    from dedup import _sysmem
    from dedup._sysmem import RowFile

    x = _random_rows(100, 64, seed=2)
    rows = RowFile(64, np.float32, dir=str(tmp_path))
    rows.append(x[:40])

    def full_disk(path, mode="r", *args, **kwargs):
        if "a" in mode:
            raise OSError(28, "No space left on device")
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(_sysmem, "open", full_disk, raising=False)
    rows.append(x[40:])  # the rows written so far are read back, and these kept
    monkeypatch.undo()
    assert not rows.spilled and list(tmp_path.iterdir()) == []
    assert (rows.read(0, 100) != x).nnz == 0
    with rows.mapped() as m:
        assert (m.matrix != x).nnz == 0
