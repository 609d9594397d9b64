"""Moved (temporary re-exports while branches merge; see the new layout)."""

from .batch import cluster_articles  # noqa: F401
from .linkage import _agglomerate, _first_member_labels, _order_key, _versions, build_clusters, choose_representative, link  # noqa: F401
