"""Collective and point-to-point communication times (numpy-vectorised).

Conventions: ``size`` is the buffer each participant holds, in bytes. Bandwidth is per
direction per accelerator. Ring all-reduce moves ``2 (n-1)/n * size`` bytes through each
participant in ``2 (n-1)`` latency-bound steps; all-gather and reduce-scatter move half that.
A 2-D mesh runs the ring algorithm along x, then along y on the ``1/nx`` shard it owns.
On meshes (Dojo) a group that spans levels runs hierarchically: reduce-scatter inside the
lowest level, all-reduce of the shard one level up, all-gather back down.

On switched GPU fabrics (every level a ``switch``) collectives run as NCCL runs them: one ring
through every member, pipelined in chunks, so the slowest crossing sets the bus bandwidth (a
level is crossed by as many links as there are members below it, one NIC per GPU), and for an
all-reduce over several nodes also NCCL's tree (intra-node chain, inter-node double binary
tree): the faster of the two predicted times is taken, as NCCL's tuner does. Latency terms are
NCCL's tuning model for its Simple protocol (NVIDIA/nccl ``src/graph/tuning.cc``): ring base
8.4 us plus one per-step latency per ring step (the level's ``latency``; inter-node steps use
the top level's), times 1.9 for a multi-node ring all-reduce (the ring's plateau); tree base 0
plus 2 x ((ranks per node - 1) x 28 us + log2(nodes) x 50 us); tree bus bandwidth is 0.9 of
the ring's and its algorithm bandwidth half of that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.sim.hardware import Level, System

# Fraction of a full all-reduce's traffic and latency steps for each collective.
_FACTOR = {"all-reduce": 1.0, "all-gather": 0.5, "reduce-scatter": 0.5}
# NCCL's tuning model, Simple protocol (NVIDIA/nccl src/graph/tuning.cc), in seconds.
RING_BASE_S = 8.4e-6
RING_PLATEAU = 1.9  # multi-node ring all-reduce latency factor
TREE_INTRA_S = 28e-6  # NVLink tree step (a 256 kB chunk)
TREE_INTER_S = 50e-6  # network tree step
TREE_BW = 0.9 * 0.5  # tree bus bandwidth factor x algorithm-bandwidth ratio


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


def nccl_collective(
    system: System, kind: str, size: Any, stride: Any, count: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return NCCL's ring and tree times of a strided group on a switched fabric.

    The tree time is ``inf`` where NCCL would not use a tree (not an all-reduce, or one node).
    """
    factor = _FACTOR[kind]
    size = np.asarray(size, dtype=float)
    count = np.asarray(count, dtype=float)
    members = group_members(system, stride, count)
    shape = np.broadcast(size, np.asarray(stride), count).shape
    bus = np.full(shape, np.inf)
    below = np.ones(shape)
    for level, m in zip(system.levels, members, strict=True):
        # Each member below has its own link into this level; a ring crosses it on all of them.
        crossing = below * level.bandwidth * level.efficiency
        bus = np.where(m > below, np.minimum(bus, crossing), bus)
        below = np.maximum(below, m)
    ppn = members[0] + np.zeros(shape)
    nodes = np.maximum(count / np.maximum(ppn, 1.0), 1.0)
    intra = system.levels[0].latency
    inter = max(lv.latency for lv in system.levels)
    n = np.maximum(count, 1.0)
    steps = factor * 2.0 * (n - 1.0)
    inter_steps = factor * 2.0 * (nodes - 1.0)
    lat = RING_BASE_S + (steps - inter_steps) * intra + inter_steps * inter
    if kind == "all-reduce":
        lat = np.where(nodes > 1, lat * RING_PLATEAU, lat)
    ring = np.where(count > 1, lat + factor * 2.0 * (n - 1.0) / n * size / bus, 0.0)
    tree_lat = 2.0 * ((ppn - 1.0) * TREE_INTRA_S + np.log2(nodes) * TREE_INTER_S)
    tree = tree_lat + size / (TREE_BW * bus)
    use_tree = (kind == "all-reduce") & (nodes > 1)
    return ring, np.where(use_tree, tree, np.inf)


def group_collective(system: System, kind: str, size: Any, stride: Any, count: Any) -> np.ndarray:
    """Return the time of a collective among a strided group of accelerators.

    NCCL's ring or tree, whichever is faster, on switched fabrics; the hierarchical
    level-by-level algorithm on meshes.
    """
    if system.levels and all(lv.topology == "switch" for lv in system.levels):
        ring, tree = nccl_collective(system, kind, size, stride, count)
        return np.minimum(ring, tree)
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
