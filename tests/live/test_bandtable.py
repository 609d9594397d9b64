"""The compact band table gives the buckets of a plain dict of sets, and
(uncapped) the candidates datasketch's MinHashLSH gives through its public API."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.live.bandtable import BandTable
from dedup.sketch.lsh import band_keys
from dedup.sketch.minhash import EMPTY, to_lean_minhash


class _Reference:
    """Buckets as a dict of sets of the batch's band keys; a bucket above the
    cap gives its ``neighbours`` most recent (largest) members."""

    def __init__(self, bands: int, rows: int):
        self.bands, self.rows = bands, rows
        self.buckets: dict[tuple[int, int], set[int]] = {}

    def _keys(self, sig: np.ndarray) -> list[tuple[int, int]]:
        return list(enumerate(band_keys(sig[None, :], self.bands, self.rows)[0].tolist()))

    def insert(self, seq: int, sig: np.ndarray) -> None:
        for k in self._keys(sig):
            self.buckets.setdefault(k, set()).add(seq)

    def remove(self, seq: int, sig: np.ndarray) -> None:
        for k in self._keys(sig):
            self.buckets.get(k, set()).discard(seq)

    def query(self, sig: np.ndarray, cap: int, neighbours: int) -> list[int]:
        found: set[int] = set()
        for k in self._keys(sig):
            bucket = sorted(self.buckets.get(k, ()))
            found.update(bucket[-neighbours:] if len(bucket) > cap else bucket)
        return sorted(found)


@pytest.mark.parametrize("bands,rows,alphabet", [(64, 1, 40), (16, 4, 2), (8, 8, 2)])
def test_same_buckets_as_a_dict_of_sets(bands: int, rows: int, alphabet: int) -> None:
    rng = np.random.default_rng(bands * rows)
    num_perm = bands * rows
    ref = _Reference(bands, rows)
    table = BandTable(bands, rows, capacity=16, pool=16)  # tiny: forces rehashes and pool growth
    sigs: dict[int, np.ndarray] = {}
    live: list[int] = []
    cap, neighbours = 6, 2
    for seq in range(600):
        sig = rng.integers(0, alphabet, num_perm).astype(np.uint32)
        if seq % 97 == 5:
            sig[:] = EMPTY
        got = table.query(sig, cap, neighbours)
        want = [] if (sig == EMPTY).all() else ref.query(sig, cap, neighbours)
        assert got.tolist() == want, seq
        sigs[seq] = sig
        table.insert(seq, sig)
        if not (sig == EMPTY).all():
            ref.insert(seq, sig)
            live.append(seq)
        if seq % 3 == 2 and live:  # evict the oldest, sometimes a random one
            k = 0 if seq % 2 else int(rng.integers(len(live)))
            s = live.pop(k)
            table.remove(s, sigs[s])
            ref.remove(s, sigs[s])
    assert len(table) == bands * len(live)
    for s in live[-20:]:
        assert s in table.query(sigs[s], 10**9, 1).tolist()


@pytest.mark.parametrize("bands,rows", [(32, 1), (8, 4)])
def test_uncapped_query_equals_datasketch(bands: int, rows: int) -> None:
    """Without a cap, a query is the union of the signature's buckets: what
    datasketch's public MinHashLSH.query answers for the same signatures."""
    from datasketch import MinHashLSH

    rng = np.random.default_rng(rows)
    lsh = MinHashLSH(num_perm=bands * rows, params=(bands, rows))
    table = BandTable(bands, rows)
    sigs = [rng.integers(0, 3, bands * rows).astype(np.uint32) for _ in range(300)]
    for seq, sig in enumerate(sigs):
        m = to_lean_minhash(sig, 1)
        assert table.query(sig, 10**9, 1).tolist() == sorted(lsh.query(m)), seq
        table.insert(seq, sig)
        lsh.insert(seq, m)
    assert sum(len(lsh.query(to_lean_minhash(s, 1))) for s in sigs) > len(sigs)  # buckets were shared


def test_remove_everything_frees_and_reuses() -> None:
    rng = np.random.default_rng(0)
    table = BandTable(32, 1)
    sigs = [rng.integers(0, 50, 32).astype(np.uint32) for _ in range(2000)]
    for round_ in range(3):
        for i, s in enumerate(sigs):
            table.insert(i, s)
        size = table.nbytes
        for i, s in enumerate(sigs):
            table.remove(i, s)
        assert len(table) == 0 and table.n_buckets == 0
        if round_:
            assert table.nbytes == size  # freed segments and slots are reused
    assert table.query(sigs[0], 100, 8).tolist() == []


def test_out_of_order_insert_keeps_members_ascending() -> None:
    table = BandTable(4, 1)
    sig = np.array([1, 2, 3, 4], np.uint32)
    for seq in (5, 9, 2, 7, 9):
        table.insert(seq, sig)
    assert table.bucket(0, 1).tolist() == [2, 5, 7, 9]
    assert table.query(sig, 3, 2).tolist() == [7, 9]  # a capped bucket gives its most recent


def test_index_candidates_equal_the_reference_on_a_feed() -> None:
    """The in-memory index's candidates (band tables, with eviction by time)
    are what the dict-of-sets reference gives for the same inserts and removals."""
    from dedup import Params, StoryIndex
    from dedup.live.bands import lsh_bands
    from dedup.live.memory import MemoryState
    from dedup.synth import SynthConfig, generate_articles

    p = Params(max_bucket_size=4, bucket_neighbours=2)
    state = MemoryState(p)
    index = StoryIndex(p, retention=0.05, state=state)  # ~1.2 h: evictions happen
    refs = [_Reference(b, r) for b, r in lsh_bands(p)]
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # live seq -> its signatures (eviction drops them)
    cfg = SynthConfig(min_words=80, max_words=120, dup_rate=0.3)
    for a in generate_articles(300, seed=3, config=cfg):
        index.add(a)
        e = state.get(a["id"])
        sigs = (e.term_sig, e.shingle_sig)
        if e.live:
            for ref, sig in zip(refs, sigs, strict=False):
                if not (sig == EMPTY).all():
                    ref.insert(e.seq, sig)
            kept[e.seq] = sigs
        for s in sorted(set(kept) - set(state.live_order)):  # evicted: out of the reference too
            for ref, sig in zip(refs, kept.pop(s), strict=False):
                ref.remove(s, sig)
        if e.live:
            got = state.lsh_query(*sigs)
            for ref, sig, g in zip(refs, sigs, got, strict=False):
                want = [] if (sig == EMPTY).all() else ref.query(sig, p.max_bucket_size, p.bucket_neighbours)
                assert g.tolist() == want
    assert 0 < len(kept) < 300


@pytest.mark.parametrize(("bands", "rows"), [(256, 1), (16, 8), (5, 3)])
def test_keys_of_one_signature_are_the_batchs_band_keys(bands, rows):
    """The compiled per-signature keys equal :func:`band_keys` of the row
    (also with rows left over past ``bands * rows``); an empty document's
    signature has none; a signature too short is refused as by the batch."""
    rng = np.random.default_rng(bands * rows)
    table = BandTable(bands, rows)
    sigs = rng.integers(0, 2**32, (20, max(256, bands * rows)), dtype=np.uint32)
    sigs[3, :5] = EMPTY  # EMPTY values inside a real signature are still keyed
    for sig in sigs:
        assert np.array_equal(table.keys(sig), band_keys(sig[None, :], bands, rows)[0])
    assert table.keys(np.full(256, EMPTY, np.uint32)) is None
    with pytest.raises(ValueError, match="exceeds"):
        table.keys(sigs[0][: bands * rows - 1])
