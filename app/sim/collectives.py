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

Where the node's switch reduces (NVLink SHARP, ``nvls_efficiency`` > 0: NVSwitch 3 on H100,
NCCL >= 2.17) an all-reduce may also run as NVLS: each GPU sends its buffer to the switch once
and reads the sum back once, at the measured NVLS algorithm bandwidth. Over several nodes,
NVLS-tree reduces inside each node with NVLS and across nodes with a tree of nodes over the
NICs (each node's buffer split over its members' NICs; beyond two nodes it crosses each NIC
twice, up and down), and where every network level above the node reduces in the network
(``sharp``: InfiniBand SHARP) the node's buffer crosses the network once each way. Latencies
are NCCL 2.21's (``src/graph/tuning.cc`` at v2.21.5-1: NVLS 25 us on NVLink, 18 us more
through the network; NVLS-tree 25 us + 2 log2(nodes) x 14 us). The fastest predicted
algorithm is taken, as NCCL's tuner does; :data:`ALGORITHMS` names them. Reduce-scatter and
all-gather move the ring's bytes whatever the algorithm (each GPU still receives, or serves,
(n-1)/n of the buffer; NVLS measures the ring's bus bandwidth for them), so inside a node they
keep the ring; with SHARP they cross the network in one pass, at the SHARP latency.
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
# NCCL 2.21's NVLS latencies, Simple protocol (tuning.cc at v2.21.5-1, hwLat), in seconds.
NVLS_INTRA_S = 25e-6  # NVLS on NVLink
NVLS_NET_S = 18e-6  # NVLS through the network (with SHARP)
NVLS_TREE_NET_S = 14e-6  # NVLS-tree, per level of the tree of nodes, each way
# Algorithms a collective may run as; ``hierarchical`` is the level-by-level one on meshes.
ALGORITHMS = ("ring", "tree", "nvls", "nvls-tree", "sharp", "hierarchical")
HIERARCHICAL = ALGORITHMS.index("hierarchical")


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


def nccl_algorithms(system: System, kind: str, size: Any, stride: Any, count: Any) -> np.ndarray:
    """Return NCCL's predicted time of each algorithm (``ALGORITHMS[:5]``, stacked on the
    first axis) for a strided group on a switched fabric; ``inf`` where NCCL would not run it.
    """
    factor = _FACTOR[kind]
    size = np.asarray(size, dtype=float)
    count = np.asarray(count, dtype=float)
    members = group_members(system, stride, count)
    shape = np.broadcast(size, np.asarray(stride), count).shape
    bus = np.full(shape, np.inf)
    up = np.full(shape, np.inf)  # the slowest crossing above the node, per node
    sharp = np.ones(shape, dtype=bool)  # every network level crossed reduces in the network
    below = np.ones(shape)
    for i, (level, m) in enumerate(zip(system.levels, members, strict=True)):
        # Each member below has its own link into this level; a ring crosses it on all of them.
        crossing = below * level.bandwidth * level.efficiency
        crossed = m > below
        bus = np.where(crossed, np.minimum(bus, crossing), bus)
        if i > 0:
            up = np.where(crossed, np.minimum(up, crossing), up)
            if not level.sharp:
                sharp = sharp & ~crossed
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
    ring_bytes = factor * 2.0 * (n - 1.0) / n * size
    ring = np.where(count > 1, lat + ring_bytes / bus, 0.0)
    none = np.full(shape, np.inf)
    multi = nodes > 1
    sharp_lat = np.where(ppn > 1, NVLS_INTRA_S, 0.0) + NVLS_NET_S
    if kind != "all-reduce":
        # In the network a reduce-scatter or all-gather moves the ring's bytes (each GPU
        # still sends or receives (n-1)/n of the buffer), in one pass instead of n - 1 steps.
        in_network = np.where(multi & sharp, sharp_lat + ring_bytes / bus, np.inf)
        return np.stack([ring, none, none, none, in_network])
    tree_lat = 2.0 * ((ppn - 1.0) * TREE_INTRA_S + np.log2(nodes) * TREE_INTER_S)
    tree = np.where(multi, tree_lat + size / (TREE_BW * bus), np.inf)
    node = system.levels[0]
    # Inside a node: NVLS moves the buffer once each way at its measured rate; without it the
    # members reduce-scatter and all-gather over NVLink, 2 (ppn-1)/ppn of the buffer.
    nvls_bw = node.bandwidth * node.nvls_efficiency
    if nvls_bw > 0:
        intra_bw = np.where(ppn > 1, nvls_bw, np.inf)
        nvls = np.where(~multi & (ppn > 1), NVLS_INTRA_S + size / nvls_bw, np.inf)
        # Tree of nodes over the NICs: two nodes swap their sums; from three on, each node's
        # buffer goes up and comes back down through the same NICs.
        tree_bw = np.minimum(intra_bw, up / np.where(nodes > 2, 2.0, 1.0))
        nvls_tree_lat = NVLS_INTRA_S + 2.0 * np.log2(nodes) * NVLS_TREE_NET_S
        nvls_tree = np.where(multi & (ppn > 1), nvls_tree_lat + size / tree_bw, np.inf)
    else:
        ring_bw = node.bandwidth * node.efficiency * ppn / (2.0 * np.maximum(ppn - 1.0, 1.0))
        intra_bw = np.where(ppn > 1, ring_bw, np.inf)
        nvls = nvls_tree = none
    in_network = np.where(multi & sharp, sharp_lat + size / np.minimum(intra_bw, up), np.inf)
    return np.stack([ring, tree, nvls, nvls_tree, in_network])


def collective_choice(
    system: System, kind: str, size: Any, stride: Any, count: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return the time of a collective among a strided group of accelerators and the index in
    :data:`ALGORITHMS` of the algorithm that runs it.

    On switched fabrics, NCCL's fastest predicted algorithm (the first of equals); on meshes,
    the hierarchical level-by-level algorithm.
    """
    if system.levels and all(lv.topology == "switch" for lv in system.levels):
        times = nccl_algorithms(system, kind, size, stride, count)
        best = np.argmin(times, axis=0)
        return np.take_along_axis(times, best[None], axis=0)[0], best.astype(float)
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
    return total, np.full(total.shape, float(HIERARCHICAL))


def group_collective(system: System, kind: str, size: Any, stride: Any, count: Any) -> np.ndarray:
    """Return the time of a collective among a strided group of accelerators."""
    return collective_choice(system, kind, size, stride, count)[0]


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
