"""Moved (temporary re-exports while branches merge; see the new layout)."""

from .sketch.minhash import EMPTY, SCHEME, _C1, _C2, _OPH_OFFSET, _OPH_SEED_MIX, _densify, _oph_signatures_numpy, _signatures_numpy, estimate_jaccard, fmix32, oph_signatures, pair_jaccard, permutations, signatures, to_lean_minhash  # noqa: F401
