"""Hardware library: load YAML descriptions, compose systems from parts, apply overrides.

Every number in ``seed_data/hardware/*.yaml`` is written ``{value, source}``. A composite names
its parts (``components: {part, count, topology}``) and adds the network level that joins them,
so totals are always computed from parts, never repeated.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from app.sim.errors import SpecError
from app.sim.paths import seed_dir

TOPOLOGIES = ("ring", "mesh2d", "switch", "torus")
# libyaml's loader reads the same documents several times faster than the pure-Python one
# (the library is read at every start of `ledger bench`).
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Tier:
    """One memory tier as seen by one accelerator (its share of shared tiers)."""

    name: str
    capacity: float  # bytes per accelerator (inf when unknown)
    bandwidth: float  # bytes/s per accelerator
    efficiency: float


@dataclass(frozen=True)
class Level:
    """One network level; ``size`` children of the level below are joined by it."""

    name: str
    topology: str
    size: float  # children per instance (inf = unbounded scale-out)
    shape: tuple[int, int]
    bandwidth: float  # bytes/s per direction available to each accelerator
    latency: float  # seconds per algorithm step
    efficiency: float
    # Algorithm bandwidth of an NVLink SHARP (NVLS) all-reduce, as a fraction of
    # ``bandwidth``: the switch reduces, so each byte crosses a GPU's link once each way.
    # 0 = the switch does not reduce.
    nvls_efficiency: float = 0.0
    # The fabric reduces in the network (InfiniBand SHARP, NCCL's CollNet / NVLS + SHARP).
    sharp: bool = False


@dataclass(frozen=True)
class System:
    """A resolved hardware description ready for the models."""

    id: str
    name: str
    accelerator: str
    peak: dict[str, float]  # flop/s per datatype
    clock_hz: float
    matmul_eff_max: float
    matmul_overhead_s: float
    tiers: tuple[Tier, ...]
    levels: tuple[Level, ...]
    n_accel: float  # inf for unbounded clusters
    power_w_per_accel: float
    view: dict[str, Any] = field(repr=False, default_factory=dict)
    # GEMM shape model (tile and wave quantisation); 0 = not modelled for this accelerator.
    sm_count: float = 0.0
    gemm_tile: tuple[float, float] = (0.0, 0.0)
    # Main-loop k-slice of a 16-bit GEMM tile and the k-slices' worth of time a tile spends
    # outside the pipelined main loop (prologue fill, epilogue); 0 = not modelled.
    gemm_tile_k: float = 0.0
    gemm_k_fill: float = 0.0
    # Sustained fraction of the fp8 peak on large GEMMs; None = same as ``matmul_eff_max``.
    fp8_eff_max: float | None = None
    # Sustained fraction of the 16-bit peak in fused (flash) attention; None = ``matmul_eff_max``.
    attention_eff: float | None = None
    # Compute time lost per second of communication hidden under it (SMs and memory bandwidth
    # the communication kernels take from the overlapped GEMMs).
    overlap_slowdown: float = 0.0

    def cum_sizes(self) -> list[float]:
        """Return accelerators per instance of each level (cumulative product)."""
        out, acc = [], 1.0
        for lv in self.levels:
            acc *= lv.size
            out.append(acc)
        return out


def _val(node: Any) -> Any:
    """Return the value of a ``{value, source}`` leaf (or the node itself)."""
    if isinstance(node, dict) and "value" in node:
        return node["value"]
    return node


@lru_cache(maxsize=1)
def library() -> dict[str, dict[str, Any]]:
    """Load every hardware YAML file keyed by id."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((seed_dir() / "hardware").glob("*.yaml")):
        doc = yaml.load(path.read_text(), Loader=YAML_LOADER)
        if not isinstance(doc, dict) or "id" not in doc:
            raise SpecError(f"hardware/{path.name}", "must be a mapping with an id")
        out[str(doc["id"])] = doc
    return out


def list_hardware() -> list[dict[str, str]]:
    """Return id, name and kind of every library entry."""
    return [
        {"id": k, "name": str(v.get("name", k)), "kind": str(v.get("kind", ""))}
        for k, v in library().items()
    ]


def _parse_topology(text: str, count: int, fieldname: str) -> tuple[str, tuple[int, int]]:
    parts = str(text).split()
    topo = parts[0] if parts else "switch"
    if topo not in TOPOLOGIES:
        raise SpecError(fieldname, f"unknown topology {topo!r}; use one of {', '.join(TOPOLOGIES)}")
    if topo in ("mesh2d", "torus"):
        if len(parts) > 1:
            xs, _, ys = parts[1].partition("x")
            shape = (int(xs), int(ys or 1))
        else:
            side = math.isqrt(count)
            shape = (side, max(1, count // max(side, 1)))
        if shape[0] * shape[1] != count:
            raise SpecError(fieldname, f"shape {shape} does not hold {count} parts")
        return topo, shape
    return topo, (count, 1)


def _components(doc: dict[str, Any]) -> list[dict[str, Any]]:
    comps = doc.get("components")
    if comps is None:
        return []
    return comps if isinstance(comps, list) else [comps]


def _leaf_view(doc: dict[str, Any], lib: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return compute/memory of an accelerator, expanding ``units`` (e.g. D1 = 354 nodes)."""
    compute = copy.deepcopy(doc.get("compute", {}))
    memory = {m["name"]: copy.deepcopy(m) for m in doc.get("memory", [])}
    units = doc.get("units")
    if units:
        part = lib[units["part"]]
        n = int(units["count"])
        src = units.get("count_source", "")
        pv = _leaf_view(part, lib)
        pc = pv["compute"]
        compute.setdefault("clock_ghz", pc.get("clock_ghz"))
        compute.setdefault("matmul_efficiency", pc.get("matmul_efficiency"))
        compute["units"] = {"value": n, "source": src}
        peaks = compute.setdefault("peak_tflops", {})
        for dt, leaf in pc["peak_tflops"].items():
            peaks.setdefault(
                dt, {"value": n * _val(leaf), "source": f"{n} x {units['part']} ({src})"}
            )
        for name, tier in pv["memory"].items():
            memory.setdefault(
                name,
                {
                    "name": name,
                    "capacity_gb": {
                        "value": n * _val(tier["capacity_gb"]),
                        "source": f"{n} x {units['part']} {name}",
                    },
                    "bandwidth_gbps": {
                        "value": n * _val(tier["bandwidth_gbps"]),
                        "source": f"{n} x {units['part']} {name}",
                    },
                    "efficiency": tier.get("efficiency", {"value": 1.0, "source": "nominal"}),
                },
            )
    macs = compute.get("macs_per_cycle")
    if macs is not None:
        clock = float(_val(compute["clock_ghz"]))
        peaks = compute.setdefault("peak_tflops", {})
        for dt in compute.get("mac_dtypes", []):
            peaks.setdefault(
                dt,
                {
                    "value": _val(macs) * 2 * clock / 1000.0,
                    "source": f"macs_per_cycle x 2 x clock ({macs.get('source', '')})",
                },
            )
    return {"compute": compute, "memory": memory}


def build_view(hw_id: str) -> dict[str, Any]:
    """Flatten a library entry into a view keyed for dotted overrides."""
    lib = library()
    if hw_id not in lib:
        raise SpecError("hardware", f"unknown hardware id {hw_id!r}; known: {', '.join(lib)}")
    chain: list[dict[str, Any]] = []  # outermost first
    doc = lib[hw_id]
    while True:
        chain.append(doc)
        comps = [c for c in _components(doc) if c.get("role") != "memory"]
        if not comps:
            break
        doc = lib[comps[0]["part"]]
    leaf = chain[-1]
    view = _leaf_view(leaf, lib)
    view["id"] = hw_id
    view["name"] = lib[hw_id].get("name", hw_id)
    view["accelerator"] = leaf["id"]
    network: dict[str, dict[str, Any]] = {}
    shared_memory: dict[str, dict[str, Any]] = {}
    power = {"tdp_w": copy.deepcopy(leaf.get("power", {}).get("tdp_w", {"value": 0}))}
    overheads: list[tuple[float, float]] = []  # (watts, accelerators below)
    below = 1.0
    for comp_doc in reversed(chain[:-1]):
        comps = _components(comp_doc)
        main = next(c for c in comps if c.get("role") != "memory")
        count = int(main["count"])
        topo, shape = _parse_topology(main.get("topology", "switch"), count, f"{comp_doc['id']}")
        levels = comp_doc.get("network", [])
        for i, lv in enumerate(levels):
            lvd = copy.deepcopy(lv)
            if i == 0:
                lvd["topology"] = topo if topo != "switch" else lvd.get("topology", "switch")
                lvd["size"] = {"value": count, "source": main.get("source", "")}
                lvd["shape"] = list(shape)
            else:
                lvd.setdefault("topology", "switch")
                size = _val(lvd.get("size", {"value": None}))
                lvd["shape"] = [size if size is not None else 0, 1]
            network[lvd["name"]] = lvd
        below *= count
        for c in comps:
            if c.get("role") == "memory":
                pdoc = lib[c["part"]]
                n = int(c["count"])
                link = _val(pdoc.get("links", {}).get("ttp_gbps", {"value": math.inf}))
                for m in pdoc.get("memory", []):
                    bw = min(_val(m["bandwidth_gbps"]), link)
                    shared_memory[m["name"]] = {
                        "name": m["name"],
                        "capacity_gb": {
                            "value": n * _val(m["capacity_gb"]),
                            "source": f"{n} x {c['part']} ({c.get('source', '')})",
                        },
                        "bandwidth_gbps": {
                            "value": n * bw,
                            "source": f"{n} x min(hbm, ttp link) of {c['part']}",
                        },
                        "efficiency": m.get("efficiency", {"value": 1.0}),
                        "shared_by": below,
                    }
        for m in comp_doc.get("memory", []):
            md = copy.deepcopy(m)
            md["shared_by"] = below
            shared_memory[md["name"]] = md
        ov = comp_doc.get("power", {}).get("overhead_w")
        if ov is not None:
            overheads.append((float(_val(ov)), below))
    view["network"] = network
    view["memory"].update(shared_memory)
    power["overheads"] = overheads
    view["power"] = power
    view["raw"] = {d["id"]: d for d in chain}
    return view


def apply_overrides(view: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Set values by dotted path (``network.inter_node.bandwidth_gbps``); unknown paths fail."""
    if not overrides:
        return view
    if not isinstance(overrides, dict):
        raise SpecError("hardware.overrides", "must be a mapping of dotted path to value")
    view = copy.deepcopy(view)
    for path, value in overrides.items():
        keys = str(path).split(".")
        node: Any = view
        for k in keys[:-1]:
            if not isinstance(node, dict) or k not in node:
                raise SpecError(f"hardware.overrides.{path}", "unknown hardware path")
            node = node[k]
        last = keys[-1]
        if not isinstance(node, dict) or last not in node or keys[0] in ("raw", "id"):
            raise SpecError(f"hardware.overrides.{path}", "unknown hardware path")
        if value is not None and not isinstance(value, (int, float)):
            raise SpecError(f"hardware.overrides.{path}", "value must be a number")
        if isinstance(node[last], dict) and "value" in node[last]:
            node[last] = {"value": value, "source": "override"}
        elif isinstance(node[last], (int, float)) or node[last] is None:
            node[last] = value
        else:
            raise SpecError(f"hardware.overrides.{path}", "path does not name a number")
    return view


def _num(node: Any, fieldname: str, default: float | None = None) -> float:
    v = _val(node)
    if v is None:
        if default is None:
            raise SpecError(fieldname, "value missing")
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        raise SpecError(fieldname, f"not a number: {v!r}") from None


def system_from_view(view: dict[str, Any]) -> System:
    """Build a :class:`System` from a (possibly overridden) view."""
    comp = view["compute"]
    peak = {
        dt: _num(v, f"hardware.compute.peak_tflops.{dt}") * 1e12
        for dt, v in comp.get("peak_tflops", {}).items()
    }
    eff = comp.get("matmul_efficiency", {})
    levels: list[Level] = []
    for name, lv in view["network"].items():
        size = _val(lv.get("size"))
        size_f = math.inf if size is None else float(size)
        shape = lv.get("shape", [size_f, 1])
        shared = _num(lv.get("shared_by", {"value": 1}), f"network.{name}.shared_by", 1.0)
        if size_f != math.inf and lv["topology"] in ("mesh2d", "torus"):
            sx, sy = int(shape[0]), int(shape[1])
            if sx * sy != int(size_f):
                sx, sy = int(size_f), 1
        else:
            sx, sy = (int(size_f) if size_f != math.inf else 0), 1
        levels.append(
            Level(
                name=name,
                topology=str(lv.get("topology", "switch")),
                size=size_f,
                shape=(sx, sy),
                bandwidth=_num(lv["bandwidth_gbps"], f"network.{name}.bandwidth_gbps")
                * 1e9
                / shared,
                latency=_num(lv.get("latency_us", {"value": 0}), f"network.{name}.latency_us")
                * 1e-6,
                efficiency=_num(lv.get("efficiency", {"value": 1}), f"network.{name}.efficiency"),
                nvls_efficiency=_num(
                    lv.get("nvls_efficiency", {"value": 0}), f"network.{name}.nvls_efficiency", 0.0
                ),
                sharp=_num(lv.get("sharp", {"value": 0}), f"network.{name}.sharp", 0.0) > 0,
            )
        )
    tiers: list[Tier] = []
    for name, m in view["memory"].items():
        shared = float(m.get("shared_by", 1))
        cap = _val(m.get("capacity_gb"))
        tiers.append(
            Tier(
                name=name,
                capacity=math.inf if cap is None else float(cap) * 1e9 / shared,
                bandwidth=_num(m["bandwidth_gbps"], f"memory.{name}.bandwidth_gbps") * 1e9 / shared,
                efficiency=_num(m.get("efficiency", {"value": 1}), f"memory.{name}.efficiency"),
            )
        )
    n = 1.0
    for lv2 in levels:
        n *= lv2.size
    tdp = _num(view["power"].get("tdp_w", {"value": 0}), "power.tdp_w", 0.0)
    per_acc = tdp + sum(w / b for w, b in view["power"].get("overheads", []))
    clock = _num(comp.get("clock_ghz", {"value": 1}), "compute.clock_ghz", 1.0) * 1e9
    tile = comp.get("gemm_tile", {})
    fp8_eff = eff.get("fp8_max")
    attn_eff = comp.get("attention_efficiency")
    return System(
        id=str(view["id"]),
        name=str(view["name"]),
        accelerator=str(view["accelerator"]),
        peak=peak,
        clock_hz=clock,
        matmul_eff_max=_num(eff.get("max", {"value": 1}), "compute.matmul_efficiency.max", 1.0),
        matmul_overhead_s=_num(
            eff.get("overhead_us", {"value": 0}), "compute.matmul_efficiency.overhead_us", 0.0
        )
        * 1e-6,
        tiers=tuple(tiers),
        levels=tuple(levels),
        n_accel=n,
        power_w_per_accel=per_acc,
        view=view,
        sm_count=_num(comp.get("sm_count", {"value": 0}), "compute.sm_count", 0.0),
        gemm_tile=(
            _num(tile.get("m", {"value": 0}), "compute.gemm_tile.m", 0.0),
            _num(tile.get("n", {"value": 0}), "compute.gemm_tile.n", 0.0),
        ),
        gemm_tile_k=_num(tile.get("k", {"value": 0}), "compute.gemm_tile.k", 0.0),
        gemm_k_fill=_num(comp.get("gemm_k_fill", {"value": 0}), "compute.gemm_k_fill", 0.0),
        fp8_eff_max=None if fp8_eff is None else _num(fp8_eff, "compute.matmul_efficiency.fp8_max"),
        attention_eff=None if attn_eff is None else _num(attn_eff, "compute.attention_efficiency"),
        overlap_slowdown=_num(
            comp.get("overlap_slowdown", {"value": 0}), "compute.overlap_slowdown", 0.0
        ),
    )


_SYS_CACHE: dict[str, System] = {}


def resolve(hw: Any, fieldname: str = "hardware") -> System:
    """Resolve an id or ``{base, overrides}`` mapping into a :class:`System`."""
    if isinstance(hw, str):
        if hw not in _SYS_CACHE:
            _SYS_CACHE[hw] = system_from_view(build_view(hw))
        return _SYS_CACHE[hw]
    if isinstance(hw, dict):
        base = hw.get("base") or hw.get("id")
        if not isinstance(base, str):
            raise SpecError(f"{fieldname}.base", "must name a hardware id")
        view = apply_overrides(build_view(base), hw.get("overrides"))
        return system_from_view(view)
    raise SpecError(fieldname, "must be a hardware id or {base, overrides}")
