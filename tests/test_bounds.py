import itertools

import numpy as np
import pytest

from messplus_core.bounds import oracle_assignment, static_mixture


def brute_force_oracle(labels, costs, alpha):
    n, m = labels.shape
    need = int(np.ceil(alpha * n - 1e-9))
    best = np.inf
    for choice in itertools.product(range(m), repeat=n):
        idx = np.arange(n), np.array(choice)
        if labels[idx].sum() >= need:
            best = min(best, costs[idx].sum())
    return best


@pytest.mark.parametrize("seed", range(25))
def test_oracle_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(3, 7), rng.integers(2, 4)
    labels = (rng.random((n, m)) < rng.uniform(0.3, 0.9, m)).astype(int)
    costs = rng.uniform(1, 10, (n, m)) * np.arange(1, m + 1)
    alpha = rng.uniform(0.2, 0.9)
    result = oracle_assignment(labels, costs, alpha)
    best = brute_force_oracle(labels, costs, alpha)
    if np.isfinite(best):
        assert result.feasible
        assert result.cost == pytest.approx(best)
        assert result.satisfaction >= alpha - 1e-12
    else:
        assert not result.feasible
        assert result.satisfaction == pytest.approx(labels.any(axis=1).mean())


def brute_force_mixture(sat, cost, alpha, steps=200):
    best = np.inf
    for p0 in np.linspace(0, 1, steps + 1):
        for p1 in np.linspace(0, 1 - p0, steps + 1):
            p = np.array([p0, p1, 1 - p0 - p1])
            if p @ sat >= alpha - 1e-9:
                best = min(best, p @ cost)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_static_mixture_matches_grid_search(seed):
    rng = np.random.default_rng(seed)
    sat = np.sort(rng.uniform(0.2, 0.95, 3))
    cost = np.sort(rng.uniform(1, 100, 3))
    alpha = rng.uniform(sat[0], sat[2])
    mix = static_mixture(sat, cost, alpha)
    assert mix.feasible
    assert mix.probabilities.sum() == pytest.approx(1.0)
    assert mix.expected_satisfaction >= alpha - 1e-9
    # the LP is exact: never worse than the grid, and the grid gets within its resolution
    grid = brute_force_mixture(sat, cost, alpha)
    assert mix.expected_cost <= grid + 1e-9
    assert mix.expected_cost == pytest.approx(grid, rel=0.02)


def test_static_mixture_hand_computed():
    mix = static_mixture(np.array([0.4, 0.6, 0.9]), np.array([1.0, 10.0, 100.0]), 0.5)
    np.testing.assert_allclose(mix.probabilities, [0.5, 0.5, 0.0], atol=1e-9)
    assert mix.expected_cost == pytest.approx(5.5)


def test_infeasible_alpha_uses_the_best_model():
    mix = static_mixture(np.array([0.4, 0.6]), np.array([1.0, 10.0]), 0.8)
    assert not mix.feasible
    np.testing.assert_allclose(mix.probabilities, [0.0, 1.0])
