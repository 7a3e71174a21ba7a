import itertools

import numpy as np
import pytest

from messplus_core.core.bounds import graded_oracle_assignment, oracle_assignment, static_mixture


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


def brute_force_graded(scores, costs, alpha):
    """The exact cheapest assignment reaching alpha * N on the summed score, by enumeration (inf: unreachable)."""
    n, m = scores.shape
    best = np.inf
    for choice in itertools.product(range(m), repeat=n):
        idx = np.arange(n), np.array(choice)
        if scores[idx].sum() >= alpha * n - 1e-9:
            best = min(best, costs[idx].sum())
    return best


def brute_force_relaxation(scores, costs, alpha):
    """The fractional relaxation (each request a distribution over models), solved as an LP by HiGHS."""
    from scipy.optimize import linprog

    n, m = scores.shape
    a_eq = np.kron(np.eye(n), np.ones((1, m)))
    res = linprog(costs.ravel(), A_ub=-scores.ravel()[None, :], b_ub=[-alpha * n], A_eq=a_eq, b_eq=np.ones(n),
                  bounds=[(0, 1)] * (n * m), method="highs")
    return res.fun if res.success else np.inf


@pytest.mark.parametrize("seed", range(40))
def test_graded_oracle_against_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    n, m = rng.integers(3, 7), rng.integers(2, 4)
    scores = np.round(np.clip(rng.beta(2, 2, (n, m)) + np.linspace(0, 0.3, m), 0, 1), 3)
    costs = rng.uniform(1, 10, (n, m)) * np.arange(1, m + 1)
    alpha = rng.uniform(0.3, 0.9)
    result = graded_oracle_assignment(scores, costs, alpha)
    best = brute_force_graded(scores, costs, alpha)
    if not np.isfinite(best):
        assert not result.feasible
        assert result.satisfaction == pytest.approx(scores.max(axis=1).mean())
        return
    assert result.feasible and result.satisfaction >= alpha - 1e-9
    # The relaxation is a floor: exact (= the LP's optimum), below the best assignment, and the returned
    # assignment is the relaxation rounded up on one request: never cheaper than the best, at most one
    # request's dearest upgrade above the floor.
    assert result.lower_bound == pytest.approx(brute_force_relaxation(scores, costs, alpha))
    assert result.lower_bound <= best + 1e-9 <= result.cost + 2e-9
    assert result.cost - result.lower_bound <= (costs.max(axis=1) - costs.min(axis=1)).max() + 1e-9


def test_graded_oracle_is_exact_when_no_step_is_split():
    # Two requests, two models; gains 0.5 (cost 1) and 0.25 (cost 4): alpha*N = 1.1 needs exactly the first step.
    scores = np.array([[0.1, 0.6], [0.5, 0.75]])
    costs = np.array([[1.0, 2.0], [1.0, 5.0]])
    result = graded_oracle_assignment(scores, costs, 0.55)
    assert result.models.tolist() == [1, 0] and result.cost == result.lower_bound == 3.0
    assert result.cost == brute_force_graded(scores, costs, 0.55)


def test_graded_oracle_skips_dominated_models():
    # The middle model costs more and scores less than the large one: never on the hull, never chosen.
    scores = np.array([[0.2, 0.3, 0.9]] * 4)
    costs = np.array([[1.0, 8.0, 5.0]] * 4)
    result = graded_oracle_assignment(scores, costs, 0.5)
    assert 1 not in result.models.tolist()
    assert result.cost == brute_force_graded(scores, costs, 0.5)


def test_graded_oracle_with_0_1_scores_matches_the_binary_oracle():
    rng = np.random.default_rng(7)
    labels = (rng.random((40, 3)) < [0.4, 0.6, 0.8]).astype(int)
    costs = rng.uniform(1, 10, (40, 3)) * [1, 3, 9]
    binary = oracle_assignment(labels, costs, 0.7)
    graded = graded_oracle_assignment(labels.astype(float), costs, 0.7)
    assert graded.cost == pytest.approx(binary.cost) and graded.satisfaction == pytest.approx(binary.satisfaction)


def test_static_mixture_on_mean_scores():
    scores = np.array([[0.2, 0.6], [0.4, 0.8]])  # means 0.3 and 0.7
    mix = static_mixture(scores.mean(axis=0), np.array([1.0, 5.0]), 0.5)
    assert mix.probabilities == pytest.approx([0.5, 0.5]) and mix.expected_cost == pytest.approx(3.0)
