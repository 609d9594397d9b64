"""Moved (temporary re-exports while branches merge; see the new layout)."""

from .sketch.lsh import _bucket_pairs, _bucket_pairs_capped, _merge_codes, _ragged_arange, band_keys, bucket_pairs, candidate_pairs, code_pairs, datasketch_candidates, lsh_params, stable_order, top_partner_pairs, unique_codes, unique_pairs, within_window  # noqa: F401
