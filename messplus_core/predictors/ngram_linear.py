"""A linear model over hashed text n-grams per zoo model: the 2024 MESS+ paper's kind of predictor.

The 2024 workshop paper trained one fastText model per zoo model on the
request text. fastText is a classifier (softmax over labels, no regression
loss) and its PyPI package (0.9.3) builds here but its `predict` fails under
NumPy 2 (`np.array(..., copy=False)`), so this is the same kind of model from
scikit-learn: word uni- and bigrams hashed into 4096 features
(`encoder: hashed-ngrams`, see data/embeddings.py) and one `SGDRegressor` (squared
loss, L2 penalty) per model, updated online with `partial_fit` on every
exploration. It predicts each model's satisfaction, clipped to [0, 1], for
graded scores and 0/1 labels alike.
"""

from __future__ import annotations

import numpy as np


class NgramLinear:
    """One online linear regressor per zoo model over request features; a model predicts `prior` until its
    first label."""

    def __init__(self, dim: int, n_outputs: int, *, seed: int, alpha: float, eta0: float, learning_rate: str,
                 power_t: float, prior: float, steps: int) -> None:
        """Hyperparameters: `conf/predictor/ngram_linear.yaml` (`head:`) holds them; no defaults here."""
        from sklearn.linear_model import SGDRegressor

        self.dim, self.prior, self.steps = dim, prior, steps
        self.models = [SGDRegressor(loss="squared_error", penalty="l2", alpha=alpha, eta0=eta0, learning_rate=learning_rate,
                                    power_t=power_t, random_state=seed + m) for m in range(n_outputs)]
        self.fitted = [False] * n_outputs

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, dim) features -> (n, n_outputs) predicted satisfaction in [0, 1]."""
        columns = [m.predict(x) if fitted else np.full(len(x), self.prior) for m, fitted in zip(self.models, self.fitted)]
        return np.clip(np.column_stack(columns), 0.0, 1.0)

    def learn(self, x: np.ndarray, y: np.ndarray) -> None:
        """One labelled example ((dim,) features, (n_outputs,) scores, NaN where a model's label is unknown, e.g.
        only the served model's on an exploited request): `steps` partial_fit passes for each labelled model."""
        row = np.asarray(x, dtype=np.float64).reshape(1, -1)
        target = np.asarray(y, dtype=np.float64)
        for _ in range(self.steps):
            for m, value in enumerate(target):
                if not np.isnan(value):
                    self.models[m].partial_fit(row, [value])
                    self.fitted[m] = True
