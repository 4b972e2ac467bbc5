"""Preparing the feature matrix for the tree scorers, as a fitted step of their ``Pipeline``.

Gradient-boosted trees cannot bin a column that has no value at all: scikit-learn's binner
fails on it. Such a column is common on a small graph (no address has a reverse name yet, say)
and is no evidence either way, so it enters the trees as 0. A step fitted on the scorer's own
training rows learns which columns those are and fills exactly them, in training and at
prediction alike; being constant in training, the column is never split on, so its later
values change nothing. Any other missing value reaches the trees as NaN, which they route
natively. The step sits in front of the trees only: the classifier's evidence patterns and
explanations see every column as it was observed.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["BlankColumnFiller"]


class BlankColumnFiller(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Sets to 0 the columns that had no value at all (only NaN) in the rows it was fitted on.

    Attributes
    ----------
    blank_columns_ : ndarray of bool, shape (n_features_in_,)
        The columns without a single value in the fitted rows.
    n_features_in_, feature_names_in_
        Column count, and names when fitted on a DataFrame.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> Self:
        """Learn which columns are blank; ``y`` is ignored."""
        X_arr = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        self.blank_columns_ = np.isnan(X_arr).all(axis=0)
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """``X`` as floats, with the blank columns set to 0 (a copy when any is blank)."""
        check_is_fitted(self, "blank_columns_")
        X_arr: np.ndarray = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        if not self.blank_columns_.any():
            return X_arr
        out = np.array(X_arr, dtype=float)
        out[:, self.blank_columns_] = 0.0
        return out
