"""AIQ: the non-decreasing convex hull and its normalised area, against hand-computed values."""

import math

import pytest

from messplus_core.core.aiq import aiq, nondecreasing_hull


def test_hull_drops_dominated_and_concave_points():
    # (2, 0.5) is beaten by the cheaper (1, 0.6); (3, 0.65) lies below the chord (1, 0.6)-(5, 0.9) (0.75 at 3).
    pts = [(1, 0.6), (2, 0.5), (3, 0.65), (5, 0.9), (6, 0.85)]
    assert nondecreasing_hull(pts) == [(1, 0.6), (5, 0.9)]


def test_hull_keeps_point_above_chord_and_best_at_equal_cost():
    pts = [(1, 0.2), (2, 0.8), (2, 0.7), (4, 1.0)]
    # (2, 0.8) is above the chord (1,0.2)-(4,1.0) (0.467 at 2): kept; (2, 0.7) loses to (2, 0.8).
    assert nondecreasing_hull(pts) == [(1, 0.2), (2, 0.8), (4, 1.0)]


def test_aiq_hand_computed():
    # Hull (1, 0.6)-(5, 0.9) on [0, 10]: 0 on [0,1); trapezoid (0.6+0.9)/2*4 = 3.0 on [1,5]; 0.9*5 = 4.5 on [5,10].
    assert aiq([(1, 0.6), (5, 0.9), (2, 0.5)], 0.0, 10.0) == pytest.approx(7.5 / 10)
    # Clipped to [2, 4]: H(2)=0.675, H(4)=0.825: area 1.5 over width 2.
    assert aiq([(1, 0.6), (5, 0.9)], 2.0, 4.0) == pytest.approx(0.75)
    # A single point: flat after it. (3, 0.5) on [1, 5]: 0.5 * 2 / 4.
    assert aiq([(3, 0.5)], 1.0, 5.0) == pytest.approx(0.25)


def test_aiq_undefined():
    assert math.isnan(aiq([], 0, 1))
    assert math.isnan(aiq([(1, 0.5)], 2, 2))
