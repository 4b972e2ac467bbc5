"""Features of domains and addresses, exported read-only from the graph.

:mod:`~attribution.features.lexical` scores the name itself, :mod:`~attribution.features.extract`
reads the graph and builds one row per node with the versioned :data:`FEATURE_NAMES`, and
:mod:`~attribution.features.graphfeat` adds graph structure and cross-fitted label features.
"""

from attribution.features.extract import (
    EVIDENCE_FEATURES,
    FEATURE_GROUPS,
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    GROUP_TITLES,
    FeatureMatrix,
    GraphExport,
    build_features,
    export_graph,
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
