"""A small MLP head over frozen text embeddings: one sigmoid output per model.

This is the paper's satisfaction predictor (frozen encoder + MLP head, binary
cross-entropy, SGD with momentum), written in NumPy. For graded satisfaction
(scores in [0, 1]) `loss="mse"` trains the same sigmoid outputs by squared
error, a regression on the score: the head is tiny and is
trained one exploration at a time, where framework call overhead would dominate.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from messplus_core.core.rng import generator


class MLPHead:
    """Predicts P(model m satisfies the request) for every model from a request embedding.

    Each call of `learn` stores the labelled example in a replay buffer and runs
    `steps` SGD steps on a minibatch made of that newest example plus up to
    `batch_size - 1` earlier ones drawn at random, so that early explorations
    keep informing the head as new ones arrive.

    The hyperparameters have no defaults here: `conf/predictor/*.yaml` (`head:`, MESS+'s online head) and
    `conf/router/{threshold_2model,cheapest_above_threshold}.yaml` (`head:`, offline heads) hold them.
    `steps` and `batch_size` are `learn`'s; a head built without them (None) is trained by `fit` only.
    """

    def __init__(self, dim: int, n_outputs: int, *, seed: int, hidden: int, lr: float, momentum: float,
                 weight_decay: float, steps: int | None = None, batch_size: int | None = None,
                 loss: str = "bce") -> None:
        if loss not in ("bce", "mse"):
            raise ValueError(f"MLP head loss must be bce (binary cross-entropy) or mse (squared error), got {loss!r}.")
        self.loss = loss
        self.rng = generator(seed)
        self.scale = np.sqrt(dim)  # unit-norm sentence embeddings -> entries of order one
        self.w1 = self.rng.normal(0.0, np.sqrt(2.0 / dim), (dim, hidden))
        self.b1 = np.zeros(hidden)
        self.w2 = self.rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, n_outputs))
        self.b2 = np.zeros(n_outputs)
        self.velocity = [np.zeros_like(p) for p in self.params]
        self.lr, self.momentum, self.steps, self.batch_size, self.weight_decay = lr, momentum, steps, batch_size, weight_decay
        self.buffer_x: list[np.ndarray] = []
        self.buffer_y: list[np.ndarray] = []

    @property
    def params(self) -> list[np.ndarray]:
        """The trained arrays [w1 (dim, hidden), b1 (hidden,), w2 (hidden, n_outputs), b2 (n_outputs,)]."""
        return [self.w1, self.b1, self.w2, self.b2]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, dim) embeddings -> (n, n_outputs) satisfaction probabilities."""
        hidden = np.maximum(0.0, (x * self.scale) @ self.w1 + self.b1)
        return expit(hidden @ self.w2 + self.b2)

    def learn(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add one labelled example ((dim,), (n_outputs,) in [0, 1]: 0/1 labels or graded scores, NaN where a
        model's label is unknown, e.g. only the served model's on an exploited request) and take `steps` SGD steps."""
        if self.steps is None or self.batch_size is None:
            raise ValueError("this MLP head was built without steps and batch_size (an offline head, `fit` only); "
                             "give both (conf/predictor/*.yaml `head:`) to train it online.")
        self.buffer_x.append(np.asarray(x, dtype=np.float64))
        self.buffer_y.append(np.asarray(y, dtype=np.float64))
        n = len(self.buffer_x)
        for _ in range(self.steps):
            older = self.rng.choice(n - 1, size=min(n - 1, self.batch_size - 1), replace=False) if n > 1 else []
            idx = [n - 1, *older]
            self._sgd_step(np.stack([self.buffer_x[i] for i in idx]), np.stack([self.buffer_y[i] for i in idx]))

    def fit(self, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int) -> "MLPHead":
        """Offline training on a whole labelled set ((n, dim), (n, n_outputs)): shuffled minibatch epochs."""
        n = len(x)
        for _ in range(epochs):
            order = self.rng.permutation(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                self._sgd_step(x[idx], y[idx])
        return self

    def _sgd_step(self, x: np.ndarray, y: np.ndarray) -> None:
        xs = x * self.scale
        pre = xs @ self.w1 + self.b1
        hidden = np.maximum(0.0, pre)
        prob = expit(hidden @ self.w2 + self.b2)
        known = ~np.isnan(y)  # a label not observed (NaN) contributes no gradient
        d_logits = np.where(known, prob - np.where(known, y, 0.0), 0.0) / len(x)  # d mean BCE / d logits
        if self.loss == "mse":  # d mean squared error (prob - y)^2 / d logits
            d_logits = 2.0 * d_logits * prob * (1.0 - prob)
        d_hidden = (d_logits @ self.w2.T) * (pre > 0)
        grads = [xs.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_logits, d_logits.sum(0)]
        for param, grad, vel in zip(self.params, grads, self.velocity):
            vel *= self.momentum
            vel -= self.lr * (grad + self.weight_decay * param)
            param += vel
