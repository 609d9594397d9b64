"""The compact band table gives the buckets datasketch's MinHashLSH gives."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.bandtable import BandTable
from dedup.minhash import EMPTY


def _reference_query(lsh, sig: np.ndarray, cap: int, neighbours: int) -> list[int]:
    """The previous implementation: datasketch buckets, big ones cut to the most recent."""
    from dedup.redis_state import lsh_buckets

    found: set[int] = set()
    for bucket in lsh_buckets(lsh, sig):
        if len(bucket) > cap:
            bucket = sorted(bucket)[-neighbours:]
        found.update(bucket)
    return sorted(found)


@pytest.mark.parametrize("bands,rows,alphabet", [(64, 1, 40), (16, 4, 2), (8, 8, 2)])
def test_same_buckets_as_datasketch(bands: int, rows: int, alphabet: int) -> None:
    from datasketch import MinHashLSH

    rng = np.random.default_rng(bands * rows)
    num_perm = bands * rows
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    table = BandTable(bands, rows, capacity=16, pool=16)  # tiny: forces rehashes and pool growth
    sigs: dict[int, np.ndarray] = {}
    live: list[int] = []
    cap, neighbours = 6, 2
    for seq in range(600):
        sig = rng.integers(0, alphabet, num_perm).astype(np.uint32)
        if seq % 97 == 5:
            sig[:] = EMPTY
        got = table.query(sig, cap, neighbours)
        want = [] if (sig == EMPTY).all() else _reference_query(lsh, sig, cap, neighbours)
        assert got.tolist() == want, seq
        sigs[seq] = sig
        table.insert(seq, sig)
        if not (sig == EMPTY).all():
            from dedup.redis_state import lsh_insert_plain

            lsh_insert_plain(lsh, seq, sig)
            live.append(seq)
        if seq % 3 == 2 and live:  # evict the oldest, sometimes a random one
            k = 0 if seq % 2 else int(rng.integers(len(live)))
            s = live.pop(k)
            table.remove(s, sigs[s])
            lsh.remove(b"%d" % s)
    assert len(table) == bands * len(live)
    for s in live[-20:]:
        assert s in table.query(sigs[s], 10**9, 1).tolist()


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


def test_index_candidates_equal_datasketch_on_a_feed() -> None:
    """The in-memory index's candidates (band tables, with eviction by time)
    are what datasketch's MinHashLSH gives for the same inserts and removals."""
    from dedup import StoryIndex
    from dedup.redis_state import lsh_insert_plain, make_lsh
    from dedup.synth import SynthConfig, generate_articles

    index = StoryIndex(max_bucket_size=4, bucket_neighbours=2, retention=0.05)  # ~1.2 h: evictions happen
    p = index.params
    views = make_lsh(p, None)
    live: set[int] = set()
    cfg = SynthConfig(min_words=80, max_words=120, dup_rate=0.3)
    for a in generate_articles(300, seed=3, config=cfg):
        prep = index._prepare([index._coerce(a)])[0]
        index._add_prepared(prep)
        e = index._state.get(a["id"])
        if e.live:
            for lsh, sig in zip(views, (e.term_sig, e.shingle_sig)):
                if not (sig == EMPTY).all():
                    lsh_insert_plain(lsh, e.seq, sig)
            live.add(e.seq)
        for s in sorted(live - set(index._state.live_order)):  # evicted: out of datasketch too
            for lsh in views:
                if b"%d" % s in lsh:
                    lsh.remove(b"%d" % s)
            live.discard(s)
        if e.live:
            want: set[int] = set()
            for lsh, sig in zip(views, (e.term_sig, e.shingle_sig)):
                if not (sig == EMPTY).all():
                    want.update(_reference_query(lsh, sig, p.max_bucket_size, p.bucket_neighbours))
            assert index._state.lsh_query(e.term_sig, e.shingle_sig).tolist() == sorted(want)
    assert 0 < len(live) < 300
