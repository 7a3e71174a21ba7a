import numpy as np
import pytest

from messplus_core.core.algorithm import exploit_choice, explore_probability, queue_path, queue_update


def test_queue_update_hand_computed():
    assert queue_update(0.0, 0.7, 0.0) == pytest.approx(0.7)
    assert queue_update(0.7, 0.7, 1.0) == pytest.approx(0.4)
    assert queue_update(0.2, 0.7, 1.0) == 0.0  # never negative


def test_queue_path_equals_the_recursion():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 2, 500)
    q, expected = 0.0, []
    for x in s:
        q = queue_update(q, 0.62, float(x))
        expected.append(q)
    np.testing.assert_allclose(queue_path(0.62, s), expected, atol=1e-12)


def test_explore_probability():
    assert explore_probability(1, 0.1) == pytest.approx(0.1)
    assert explore_probability(16, 1.0) == pytest.approx(0.5)  # 1 / 16^(1/4)
    assert explore_probability(1, 3.0) == 1.0  # capped
    np.testing.assert_allclose(explore_probability(np.array([1, 81]), 0.3), [0.3, 0.1])


def test_exploit_rule_hand_computed():
    energy = [10.0, 100.0, 1000.0]
    s_hat = [0.2, 0.6, 0.9]
    # Q = 0: pure cost -> cheapest.
    assert exploit_choice(1e-3, energy, 0.0, 0.7, s_hat) == 0
    # V=1e-3, Q=1: scores 0.01+0.5=0.51, 0.1+0.1=0.2, 1.0-0.2=0.8 -> medium.
    assert exploit_choice(1e-3, energy, 1.0, 0.7, s_hat) == 1
    # Q=10: 0.01+5=5.01, 0.1+1=1.1, 1-2=-1 -> large.
    assert exploit_choice(1e-3, energy, 10.0, 0.7, s_hat) == 2


def test_exploit_ties_go_to_the_cheaper_model():
    assert exploit_choice(1.0, [1.0, 1.0, 1.0], 0.0, 0.5, [0.5, 0.5, 0.5]) == 0
    assert exploit_choice(1.0, [2.0, 1.0, 1.0], 0.0, 0.5, [0.5, 0.5, 0.5]) == 1


def test_explore_exponent_default_quarter_and_2024_third():
    t = np.array([1, 8, 16, 27])
    np.testing.assert_allclose(explore_probability(t, 0.5), np.minimum(1, 0.5 / t ** 0.25))
    # The 2024 paper: p_t = min(1, 3 / t^(1/3)): 1 at t=27, 3/4 at t=64, 3/10 at t=1000.
    np.testing.assert_allclose(explore_probability(np.array([1, 27, 64, 1000]), 3.0, 1 / 3), [1.0, 1.0, 0.75, 0.3])
    assert explore_probability(64, 2.0, 1 / 3) == pytest.approx(0.5)
