"""Features of domains and addresses, exported read-only from the graph.

:mod:`~attribution.features.export` holds the read-only statements (and a dictionary export);
:mod:`~attribution.features.facts` streams them into compact arrays;
:mod:`~attribution.features.lexical` scores the name itself; :mod:`~attribution.features.extract`
builds one row per node with the versioned :data:`FEATURE_NAMES`; and
:mod:`~attribution.features.graphfeat` adds graph structure (a sparse adjacency matrix) and
cross-fitted label features.
:mod:`~attribution.features.families` groups the observed evidence into independent families.
"""

from attribution.features.export import GraphExport, export_graph
from attribution.features.extract import (
    EVIDENCE_FEATURES,
    FEATURE_GROUPS,
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    GROUP_TITLES,
    FeatureMatrix,
    build_features,
    features_from_export,
)

__all__ = [
    "EVIDENCE_FEATURES",
    "FEATURE_GROUPS",
    "FEATURE_NAMES",
    "FEATURE_SET_VERSION",
    "GROUP_TITLES",
    "FeatureMatrix",
    "GraphExport",
    "build_features",
    "export_graph",
    "features_from_export",
]
