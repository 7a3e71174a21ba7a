"""One number per router for its cost-quality trade-off over an alpha sweep (RouterBench's AIQ idea).

RouterBench (Hu et al., 2024, "RouterBench: A Benchmark for Multi-LLM Routing
System", Sec. 3) scores a router by the area under its non-decreasing convex
hull in the (cost, quality) plane, normalised by the cost range. Here:

- the points are the router's (cost per request, satisfaction) means over seeds,
  one per alpha of the sweep;
- the hull H is the upper concave envelope of the points after dropping every
  point that a cheaper point matches or beats (so H never decreases); between
  two hull vertices a router can mix the two settings at random, hence linear;
  beyond its most expensive vertex H stays flat (spending more buys nothing);
  below its cheapest point H is 0 (the router cannot run that cheaply);
- AIQ = (1 / (c_max - c_min)) * integral of H from c_min to c_max, where c_min and
  c_max are the cheapest and the most expensive single model's cost per request.

AIQ lies in [0, 1]; higher is better. It is comparable across routers only on
the same benchmark and alpha sweep.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def nondecreasing_hull(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Vertices (cost ascending) of the non-decreasing upper convex hull of `points` (cost, quality).

    Non-finite points are ignored; an empty input gives an empty hull.
    """
    pts = sorted({(float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)})
    frontier: list[tuple[float, float]] = []
    for x, y in pts:  # keep a point only if it beats every cheaper one (equal cost: the best is last)
        while frontier and frontier[-1][0] == x:
            frontier.pop()
        if not frontier or y > frontier[-1][1]:
            frontier.append((x, y))
    hull: list[tuple[float, float]] = []
    for p in frontier:  # Andrew's monotone chain, upper part
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    return hull


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull_value(hull: Sequence[tuple[float, float]], cost: np.ndarray) -> np.ndarray:
    """H(cost): 0 below the cheapest vertex, linear between vertices, flat after the last."""
    xs = np.array([p[0] for p in hull])
    ys = np.array([p[1] for p in hull])
    cost = np.asarray(cost, dtype=np.float64)
    return np.where(cost < xs[0], 0.0, np.interp(cost, xs, ys))


def aiq(points: Sequence[tuple[float, float]], c_min: float, c_max: float) -> float:
    """Normalised area under the non-decreasing convex hull between c_min and c_max (NaN if undefined)."""
    hull = nondecreasing_hull(points)
    if not hull or not (math.isfinite(c_min) and math.isfinite(c_max)) or c_max <= c_min:
        return math.nan
    # H is linear between consecutive breakpoints (the vertices, the ends) and 0 left of the first vertex,
    # so the trapezoid rule on the breakpoints is exact.
    first = hull[0][0]
    xs = sorted({c_min, c_max, *(x for x, _ in hull if c_min < x < c_max)})
    xp, yp = [p[0] for p in hull], [p[1] for p in hull]
    area = 0.0
    for a, b in zip(xs[:-1], xs[1:]):
        if b <= first:
            continue
        ya, yb = np.interp([a, b], xp, yp)
        area += (b - a) * (ya + yb) / 2
    return float(area / (c_max - c_min))
