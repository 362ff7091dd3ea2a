"""Consistency checks: recompute aggregate figures from their parts and compare with claims."""

from __future__ import annotations

from typing import Any

from app.sim.claimed import claim_figures
from app.sim.errors import SpecError
from app.sim.hardware import _val, library, resolve
from app.sim.spec import num

# unit -> (dimension, factor to the base unit)
UNITS: dict[str, tuple[str, float]] = {
    "flops": ("flop/s", 1.0),
    "gflops": ("flop/s", 1e9),
    "tflops": ("flop/s", 1e12),
    "pflops": ("flop/s", 1e15),
    "eflops": ("flop/s", 1e18),
    "tops": ("flop/s", 1e12),
    "gflop/s": ("flop/s", 1e9),
    "tflop/s": ("flop/s", 1e12),
    "pflop/s": ("flop/s", 1e15),
    "eflop/s": ("flop/s", 1e18),
    "eflop": ("flop/s", 1e18),
    "pflop": ("flop/s", 1e15),
    "b": ("bytes", 1.0),
    "mb": ("bytes", 1e6),
    "gb": ("bytes", 1e9),
    "tb": ("bytes", 1e12),
    "mib": ("bytes", 2**20),
    "gib": ("bytes", 2**30),
    "gb/s": ("bytes/s", 1e9),
    "tb/s": ("bytes/s", 1e12),
    "gbps": ("bytes/s", 1e9),
    "tbps": ("bytes/s", 1e12),
    "w": ("W", 1.0),
    "kw": ("W", 1e3),
    "mw": ("W", 1e6),
    "count": ("count", 1.0),
    "": ("count", 1.0),
    "chips": ("count", 1.0),
    "nodes": ("count", 1.0),
    "tiles": ("count", 1.0),
    "trays": ("count", 1.0),
    "gpus": ("count", 1.0),
    "d1": ("count", 1.0),
    "cabinets": ("count", 1.0),
    "fps": ("frames/s", 1.0),
    "frames/s": ("frames/s", 1.0),
}


def _unit(u: Any, field: str) -> tuple[str, float]:
    key = str(u or "").strip().lower().replace(" ", "")
    if key not in UNITS:
        raise SpecError(field, f"unknown unit {u!r}")
    return UNITS[key]


def computed_figures() -> list[dict[str, Any]]:
    """Return every aggregate figure recomputed from the hardware library's parts."""
    lib = library()
    node = lib["dojo-training-node"]["compute"]
    d1 = lib["dojo-d1"]
    n_nodes = int(d1["units"]["count"])
    clock = _val(node["clock_ghz"])
    macs = _val(node["macs_per_cycle"])
    node_bf16 = macs * 2 * clock * 1e9
    node_fp32 = _val(node["peak_tflops"]["fp32"]) * 1e12
    node_sram = _val(lib["dojo-training-node"]["memory"][0]["capacity_gb"]) * 1e9
    d1_bf16, d1_fp32, d1_sram = n_nodes * node_bf16, n_nodes * node_fp32, n_nodes * node_sram
    io = d1["io"]
    d1_io = _val(io["serdes_lanes"]) * _val(io["lane_gbit"]) * 1e9 / 8  # bytes/s, one direction
    tile = resolve("dojo-training-tile")
    n_tile = int(tile.n_accel)
    tile_io = lib["dojo-training-tile"]["io"]
    tray_doc = lib["dojo-system-tray"]
    tiles_per_tray = int(tray_doc["components"][0]["count"])
    dips_per_tray = int(tray_doc["components"][1]["count"])
    trays_per_cab = int(lib["dojo-cabinet"]["components"]["count"])
    cabs = int(lib["dojo-exapod"]["components"]["count"])
    dip_ttp = _val(lib["dojo-interface-processor"]["links"]["ttp_gbps"]) * 1e9
    dip_hbm = _val(lib["dojo-interface-processor"]["memory"][0]["capacity_gb"]) * 1e9
    tiles_pod = cabs * trays_per_cab * tiles_per_tray
    d1_pod = tiles_pod * n_tile
    npu = resolve("fsd-hw3-npu")
    npu_tops = npu.peak["int8"]
    npu_sram_bw = npu.tiers[0].bandwidth
    npus_per_soc = int(lib["fsd-hw3-soc"]["components"]["count"])
    socs = int(lib["fsd-hw3"]["components"]["count"])
    soc_w = _val(lib["fsd-hw3-soc"]["power"]["overhead_w"])
    a100 = resolve("a100-80gb-sxm").peak["fp16"]
    gpn = int(lib["a100-80gb-dgx"]["components"]["count"])
    s34_nodes = 720  # S34: Karpathy CVPR 2021, 720 nodes of 8 A100
    f = [
        (
            "training-node-bf16-1024-gflops",
            node_bf16,
            "flop/s",
            "256 MAC (8x8x4) x 2 x 2 GHz",
            "==",
        ),
        (
            "d1-peak-bf16-362-tflops|d1-peak-362-tflops-ieee-micro",
            d1_bf16,
            "flop/s",
            f"{n_nodes} nodes x node BF16 peak",
            "==",
        ),
        ("d1-peak-fp32-22-6-tflops", d1_fp32, "flop/s", f"{n_nodes} nodes x 64 GFLOPS FP32", "=="),
        ("d1-sram-440-mb", d1_sram, "bytes", f"{n_nodes} nodes x 1.25 MB", "=="),
        (
            "d1-off-chip-bandwidth-4x4-tbps|d1-off-chip-bandwidth-4-tbps",
            2 * d1_io / 4,
            "bytes/s",
            "576 lanes x 112 Gb/s / 8 / 4 edges, both directions (one direction is half)",
            "==",
        ),
        (
            "d1-off-chip-bandwidth-16000-gbps-hamilton",
            2 * d1_io,
            "bytes/s",
            "576 lanes x 112 Gb/s / 8, both directions",
            "==",
        ),
        (
            "tile-d1-count-25|tile-d1-count-25-hc34|tile-stable-diffusion-25-d1",
            n_tile,
            "count",
            "5 x 5 mesh",
            "==",
        ),
        (
            "tile-peak-bf16-9-pflops|tile-peak-9-pflops-hc34",
            n_tile * d1_bf16,
            "flop/s",
            "25 x D1 BF16 peak",
            "==",
        ),
        ("tile-sram-11-gb", n_tile * d1_sram, "bytes", "25 x D1 SRAM", "=="),
        (
            "tile-off-tile-bandwidth-36-tbps|tile-off-tile-36-tbps-hc34",
            _val(tile_io["edges"]) * _val(tile_io["edge_bandwidth_gbps"]) * 1e9,
            "bytes/s",
            "4 edges x 9 TB/s",
            "==",
        ),
        (
            "tile-power-15-kw",
            n_tile * _val(d1["power"]["tdp_w"]),
            "W",
            "25 x 400 W of D1 alone (a claimed tile power must be at least this)",
            "<=",
        ),
        ("tray-tiles-6|tray-tiles-6-ai-day-2022", tiles_per_tray, "count", "2 x 3 tiles", "=="),
        ("cabinet-tiles-12", trays_per_cab * tiles_per_tray, "count", "2 trays x 6 tiles", "=="),
        ("dip-edge-4-5-tbps", 5 * dip_ttp, "bytes/s", "5 DIPs per tile edge x 900 GB/s TTP", "=="),
        ("dip-edge-dram-160-gb", 5 * dip_hbm, "bytes", "5 DIPs per tile edge x 32 GB", "=="),
        ("tray-peak-54-pflops", tiles_per_tray * n_tile * d1_bf16, "flop/s", "6 x tile peak", "=="),
        ("cabinet-trays-2|cabinet-trays-2-ai-day-2022", trays_per_cab, "count", "2 trays", "=="),
        (
            "cabinet-peak-100-pflops",
            trays_per_cab * tiles_per_tray * n_tile * d1_bf16,
            "flop/s",
            "2 trays x 6 tiles x tile peak",
            "==",
        ),
        ("exapod-tiles-120", tiles_pod, "count", "10 cabinets x 2 trays x 6 tiles", "=="),
        ("exapod-d1-count-3000", d1_pod, "count", "120 tiles x 25 D1", "=="),
        ("exapod-nodes-1062000", d1_pod * n_nodes, "count", "3,000 D1 x 354 nodes", "=="),
        (
            "exapod-peak-1-1-eflops|exapod-peak-1-1-eflops-ai-day-2022|exapod-peak-1-eflop-hc34",
            d1_pod * d1_bf16,
            "flop/s",
            "3,000 D1 x D1 BF16 peak",
            "==",
        ),
        (
            "exapod-sram-1-3-tb|exapod-sram-1-3-tb-ai-day-2022",
            d1_pod * d1_sram,
            "bytes",
            "3,000 D1 x D1 SRAM",
            "==",
        ),
        (
            "exapod-hbm-13-tb|exapod-hbm-13-tb-ai-day-2022",
            cabs * trays_per_cab * dips_per_tray * dip_hbm,
            "bytes",
            "10 cabinets x 2 trays x 20 DIPs x 32 GB",
            "==",
        ),
        ("fsd-hw3-npu-36-tops", npu_tops, "flop/s", "96x96 MAC x 2 x 2 GHz", "=="),
        (
            "fsd-hw3-sram-2-tbps",
            socs * npu_sram_bw,
            "bytes/s",
            "(256 + 128) B/cycle x 2 GHz per NPU, read side only, x 2 NPUs",
            "==",
        ),
        (
            "fsd-hw3-soc-72-tops|fsd-hw3-soc-72-tops-ieee-micro",
            npus_per_soc * npu_tops,
            "flop/s",
            "2 NPUs x 96x96 MAC x 2 x 2 GHz",
            "==",
        ),
        (
            "fsd-hw3-144-tops",
            socs * npus_per_soc * npu_tops,
            "flop/s",
            "2 SoCs x 2 NPUs x 36.86 TOPS",
            "==",
        ),
        (
            "fsd-hw3-72-w",
            socs * soc_w,
            "W",
            "2 SoCs x 36 W chip TDP (board power must be at least this)",
            "<=",
        ),
        ("gpu-cluster-5760-a100", s34_nodes * gpn, "count", "720 nodes x 8 A100", "=="),
        (
            "gpu-cluster-1-8-eflops",
            s34_nodes * gpn * a100,
            "flop/s",
            "5,760 x 312 TFLOPS FP16 dense",
            "==",
        ),
    ]
    return [
        {
            "slug": s.split("|")[0],
            "aliases": s.split("|")[1:],
            "computed": v,
            "unit": u,
            "formula": fm,
            "relation": rel,
        }
        for s, v, u, fm, rel in f
    ]


# Figures the hardware library takes as they were claimed: recomputing them only repeats the
# input, so their comparison is "assumed", never "consistent".
# The tile's 9 TB/s per edge comes from the same statement as its 36 TB/s off-tile.
ASSUMED_INPUTS = frozenset(
    {"tile-d1-count-25", "tray-tiles-6", "cabinet-trays-2", "tile-off-tile-bandwidth-36-tbps"}
)

# Figures the arithmetic reaches only under a reading the source does not state. The seed's
# analytical checks of the same figures (evidence.yaml) state the same assumption, so the
# simulation and the arithmetic give one answer: inconclusive under it.
BOTH_DIRECTIONS = (
    "the off-chip figure counts both directions: 576 SerDes lanes x 112 Gb/s give 8.06 TB/s "
    "per direction, 16.13 TB/s both"
)
ASSUMPTIONS = {
    "d1-off-chip-bandwidth-4x4-tbps": BOTH_DIRECTIONS
    + ", so 4 TB/s on each of the 4 edges only if both directions are counted",
    "d1-off-chip-bandwidth-4-tbps": BOTH_DIRECTIONS
    + ", so 4 TB/s only if it is one of 4 edges and counts both directions",
    "d1-off-chip-bandwidth-16000-gbps-hamilton": BOTH_DIRECTIONS
    + ", so 16,000 GB/s only if both directions are counted",
    "fsd-hw3-sram-2-tbps": "each NPU also writes 128 B per cycle to SRAM, a write path the source "
    "does not state (read side alone: 768 GB/s per NPU)",
}

UNVERIFIABLE = {
    "exapod-4x-perf-same-cost": "cost-normalised; no cost data was published",
}


def _claims_from_file() -> list[dict[str, Any]]:
    """The claimed figures of seed_data/claims.yaml (read once per file version)."""
    return [{"slug": slug, **fig} for slug, fig in claim_figures().items() if fig is not None]


def evaluate_consistency(spec: dict[str, Any]) -> dict[str, Any]:
    """Compare recomputed figures with claimed ones; flag mismatches beyond the tolerance."""
    tol = num(spec, "tolerance", "", 0.10, minimum=0.0)
    claims = spec.get("claims")
    source = "spec"
    if claims is None:
        claims, source = _claims_from_file(), "seed_data/claims.yaml"
    if not isinstance(claims, list):
        raise SpecError("claims", "must be a list of {slug, value, unit}")
    only = spec.get("slugs")
    by_slug: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(claims):
        if not isinstance(c, dict) or "slug" not in c:
            raise SpecError(f"claims[{i}]", "must be a mapping with slug, value and unit")
        if c.get("value") is None:
            continue
        num(c, "value", f"claims[{i}].")
        by_slug[str(c["slug"])] = {**c, "_i": i}
    checks = []
    rows: list[tuple[dict[str, Any], str, dict[str, Any] | None]] = []
    for fig in computed_figures():
        slugs = [fig["slug"], *fig["aliases"]]
        hits = [s for s in slugs if s in by_slug and (not only or s in only)]
        if hits:
            rows.extend((fig, s, by_slug[s]) for s in hits)
        elif not only or fig["slug"] in only:
            rows.append((fig, fig["slug"], None))
    for fig, slug, claim in rows:
        row = {k: v for k, v in fig.items() if k != "aliases"}
        row["slug"] = slug
        row["role"] = "assumed" if fig["slug"] in ASSUMED_INPUTS else "arithmetic"
        if claim is None:
            row.update({"claimed": None, "verdict": "no-claim"})
        else:
            field = f"claims[{claim['_i']}].unit"
            unit_key = str(claim.get("unit") or "").strip().lower().replace(" ", "")
            if fig["unit"] == "count" and unit_key not in UNITS:
                dim, factor = "count", 1.0  # a label such as "A100 80GB GPUs" counts things
            elif unit_key not in UNITS and source != "spec":
                row.update(
                    {
                        "claimed": None,
                        "verdict": "unit-unknown",
                        "claimed_as": f"{claim['value']} {claim.get('unit', '')}",
                    }
                )
                checks.append(row)
                continue
            else:
                dim, factor = _unit(claim.get("unit"), field)
            if dim != fig["unit"]:
                if source != "spec":
                    row.update({"claimed": None, "verdict": "unit-unknown"})
                    checks.append(row)
                    continue
                raise SpecError(field, f"{claim.get('unit')!r} is not a {fig['unit']} unit")
            claimed = float(claim["value"]) * factor
            diff = (fig["computed"] - claimed) / claimed if claimed else float("inf")
            if fig["relation"] == "<=":
                ok = fig["computed"] <= claimed * (1 + tol)
            else:
                ok = abs(diff) <= tol
            assumption = ASSUMPTIONS.get(slug, ASSUMPTIONS.get(fig["slug"], ""))
            # A figure that holds only under a stated reading is inconclusive under it, whether
            # or not the arithmetic without that reading reaches it: one question, one answer.
            if row["role"] == "assumed":
                verdict = "assumed"
            elif assumption:
                verdict = "inconclusive"
            else:
                verdict = "consistent" if ok else "contradicts"
            row.update(
                {
                    "claimed": claimed,
                    "claimed_as": f"{claim['value']} {claim.get('unit', '')}".strip(),
                    "rel_diff": diff,
                    "verdict": verdict,
                    "assumption": assumption if verdict == "inconclusive" else "",
                }
            )
        checks.append(row)
    for slug, why in UNVERIFIABLE.items():
        if slug in by_slug and (not only or slug in only):
            checks.append(
                {"slug": slug, "computed": None, "verdict": "unverifiable", "formula": why}
            )
    return {
        "kind": "consistency",
        "claims_source": source,
        "tolerance": tol,
        "checks": checks,
        "contradictions": [c["slug"] for c in checks if c["verdict"] == "contradicts"],
        "consistent": sum(1 for c in checks if c["verdict"] == "consistent"),
    }
