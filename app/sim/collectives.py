"""Collective and point-to-point communication times (numpy-vectorised).

Conventions: ``size`` is the buffer each participant holds, in bytes. Bandwidth is per
direction per accelerator. Ring all-reduce moves ``2 (n-1)/n * size`` bytes through each
participant in ``2 (n-1)`` latency-bound steps; all-gather and reduce-scatter move half that.
A 2-D mesh runs the ring algorithm along x, then along y on the ``1/nx`` shard it owns.
A group that spans levels runs hierarchically: reduce-scatter inside the lowest level,
all-reduce of the shard one level up, all-gather back down.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.sim.hardware import Level, System

# Fraction of a full all-reduce's traffic and latency steps for each collective.
_FACTOR = {"all-reduce": 1.0, "all-gather": 0.5, "reduce-scatter": 0.5}


def ring_time(n: Any, size: Any, bw: float, lat: float, factor: float = 1.0) -> np.ndarray:
    """Return ring all-reduce time (x ``factor``) for ``n`` participants."""
    n = np.asarray(n, dtype=float)
    size = np.asarray(size, dtype=float)
    safe = np.maximum(n, 1.0)
    t = factor * (2.0 * (safe - 1.0) / safe * size / bw + 2.0 * (safe - 1.0) * lat)
    return np.where(n > 1, t, 0.0)


def level_time(level: Level, n: Any, size: Any, factor: float = 1.0) -> np.ndarray:
    """Return the time of a collective among ``n`` participants on one level."""
    bw = level.bandwidth * level.efficiency
    if level.topology in ("mesh2d", "torus"):
        sx = level.shape[0] if level.shape[0] > 0 else 1
        n_arr = np.asarray(n, dtype=float)
        nx = np.minimum(n_arr, float(sx))
        ny = np.ceil(n_arr / np.maximum(nx, 1.0))
        # A torus closes each ring with a wrap-around link, so both directions carry data.
        mult = 2.0 if level.topology == "torus" else 1.0
        tx = ring_time(nx, size, bw * mult, level.latency, factor)
        ty = ring_time(
            ny,
            np.asarray(size, dtype=float) / np.maximum(nx, 1.0),
            bw * mult,
            level.latency,
            factor,
        )
        return tx + ty
    return ring_time(n, size, bw, level.latency, factor)


def group_members(system: System, stride: Any, count: Any) -> list[np.ndarray]:
    """Return, per level, how many group members share one instance of that level.

    Ranks are laid out innermost first; a group has ``count`` members ``stride`` ranks apart.
    """
    stride = np.asarray(stride, dtype=float)
    count = np.asarray(count, dtype=float)
    out = []
    for cum in system.cum_sizes():
        if math.isinf(cum):
            out.append(count + 0.0 * stride)
        else:
            out.append(np.clip(np.floor(cum / stride), 1.0, count))
    return out


def group_collective(system: System, kind: str, size: Any, stride: Any, count: Any) -> np.ndarray:
    """Return the hierarchical collective time of a strided group of accelerators."""
    factor = _FACTOR[kind]
    size = np.asarray(size, dtype=float)
    members = group_members(system, stride, count)
    total = np.zeros(np.broadcast(size, np.asarray(stride), np.asarray(count)).shape)
    below = np.ones_like(total)
    for level, m in zip(system.levels, members, strict=True):
        k = m / below
        total = total + level_time(level, k, size / below, factor)
        below = np.maximum(below, m)
    # A group larger than the whole system cannot be placed; the caller checks feasibility.
    return total


def p2p_time(system: System, size: Any, stride: Any) -> np.ndarray:
    """Return the time to send ``size`` bytes to the rank ``stride`` positions away."""
    size = np.asarray(size, dtype=float)
    stride = np.asarray(stride, dtype=float)
    shape = np.broadcast(size, stride).shape
    t = np.zeros(shape)
    done = np.zeros(shape, dtype=bool)
    for level, cum in zip(system.levels, system.cum_sizes(), strict=True):
        here = (~done) & (stride < cum)
        tl = size / (level.bandwidth * level.efficiency) + level.latency
        t = np.where(here, tl, t)
        done = done | here
    if system.levels:
        last = system.levels[-1]
        t = np.where(done, t, size / (last.bandwidth * last.efficiency) + last.latency)
    return t
