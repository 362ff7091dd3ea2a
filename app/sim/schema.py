"""The strict spec schema: every workload kind and scenario file, with bounds (pydantic v2).

:func:`check` validates a spec before any model sees it and returns it as plain data (numeric
text such as YAML 1.1's ``1.0e9`` read as a number); any problem is one :class:`SpecError`
naming the field. Unknown keys are errors, numbers are finite and bounded, and hardware
overrides must be physically valid. :func:`json_schema` publishes the same rules.
Cross-field rules (heads divisible by tp, layouts that fit the machine) stay in the models.
"""

from __future__ import annotations

import math
import typing
from functools import cache
from typing import Annotated, Any, Literal, NotRequired, Required, Union

from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic import with_config as _with_config
from typing_extensions import TypedDict

from app.sim.errors import SpecError
from app.sim.limits import MAX_SWEEP_VALUES
from app.sim.notes import note_problem

STRICT = ConfigDict(extra="forbid")
PRECISIONS = ("bf16", "fp16", "fp8")
GEMM_DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8")
STACKS = ("megatron-2021", "megatron-core", "nemo", "fsdp", "fsdp-eager")
RECOMPUTE = ("none", "selective", "full")
RELATIONS = ("==", "<=", ">=", "info")
OPS = ("all-reduce", "all-gather", "reduce-scatter")
ALGORITHMS = ("auto", "hierarchical", "ring", "mesh2d")

# Tags of union members; they appear in pydantic's error locations and are dropped from them.
_TAG = "~"


def _number(value: Any) -> Any:
    """Refuse booleans and text; numbers as they are (for values pydantic does not type)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {value!r}")
    return value


def _between(lo: float, hi: float, doc: str = "") -> Any:
    return Field(ge=lo, le=hi, description=doc or None)


def _text(max_length: int, doc: str = "") -> Any:
    return Field(max_length=max_length, pattern=r"^[^\x00-\x1f]*$", description=doc or None)


# Strict: no booleans, no text, and integers written as integers (3, not 3.0).
Int = Annotated[int, Strict()]
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Flag = Annotated[bool, Strict()]
Name = Annotated[str, _text(120)]


def _note(value: str) -> str:
    problem = note_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Note = Annotated[
    str,
    Field(
        max_length=4000,
        pattern=r"^[^\x00]*$",
        description="May quote result values as {field} or {field:.3g} (width <= 40, "
        "precision <= 20).",
    ),
    AfterValidator(_note),
]

# ---- shared pieces ----

OVERRIDE_RULES: dict[str, tuple[float, float, bool, bool, bool]] = {
    # last key: (minimum, maximum, minimum excluded, integer, may be null). The lower bounds
    # keep every modelled time finite: 1 kB/s, 1 MFLOP/s and 0.1 % efficiency at least.
    "bandwidth_gbps": (1e-6, 1e15, False, False, False),
    "capacity_gb": (0.0, 1e15, True, False, True),  # null: unbounded
    "efficiency": (1e-3, 1.0, False, False, False),
    "max": (1e-3, 1.0, False, False, False),  # compute.matmul_efficiency.max
    "latency_us": (0.0, 1e9, False, False, False),
    "nvls_efficiency": (0.0, 1.0, False, False, False),  # 0: the switch does not reduce
    "sharp": (0.0, 1.0, False, True, False),  # 1: the fabric reduces in the network
    "overhead_us": (0.0, 1e9, False, False, False),
    "size": (1.0, 1e9, False, True, True),  # null: unbounded scale-out
    "shared_by": (1.0, 1e9, False, False, False),
    "units": (1.0, 1e9, False, True, False),
    "macs_per_cycle": (1.0, 1e12, False, False, False),
    "clock_ghz": (1e-6, 1e6, False, False, False),
    "peak_tflops": (1e-6, 1e15, False, False, False),  # compute.peak_tflops.<dtype>
    "tdp_w": (0.0, 1e9, False, False, False),
}
_OVERRIDE_DEFAULT = (0.0, 1e12, False, False, False)


def _override_rule(path: str) -> tuple[float, float, bool, bool, bool]:
    keys = path.split(".")
    if len(keys) >= 2 and keys[-2] == "peak_tflops":
        return OVERRIDE_RULES["peak_tflops"]
    return OVERRIDE_RULES.get(keys[-1], _OVERRIDE_DEFAULT)


def _override_json_schema() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for key, (lo, hi, excl, integer, null) in OVERRIDE_RULES.items():
        rule: dict[str, Any] = {"type": "integer" if integer else "number", "maximum": hi}
        rule["exclusiveMinimum" if excl else "minimum"] = lo
        pattern = r"(^|\.)peak_tflops\.[a-z0-9]+$" if key == "peak_tflops" else rf"(^|\.){key}$"
        props[pattern] = {"anyOf": [rule, {"type": "null"}]} if null else rule
    return {"patternProperties": props, "maxProperties": 100}


Overrides = Annotated[
    dict[Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")], Any],
    Field(
        description="Dotted hardware paths to values; e.g. network.inter_node.bandwidth_gbps. "
        "Bandwidths >= 1e-6 GB/s, peaks >= 1e-6 TFLOP/s, capacities > 0, efficiencies in "
        "[0.001, 1], latencies >= 0 (patternProperties give each rule).",
        json_schema_extra=_override_json_schema(),
    ),
]


@_with_config(STRICT)
class HardwareRef(TypedDict, total=False):
    """A library hardware id with overridden values."""

    base: Name
    id: Name
    overrides: Overrides


def _hardware_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return f"{_TAG}id"
    if isinstance(value, dict):
        return f"{_TAG}ref"
    return None


Hardware = Annotated[
    Annotated[Name, Tag(f"{_TAG}id")] | Annotated[HardwareRef, Tag(f"{_TAG}ref")],
    Discriminator(
        _hardware_tag,
        custom_error_type="hardware",
        custom_error_message="must be a hardware id or {base, overrides}",
    ),
    Field(description="A hardware id (`ledger bench list`) or {base, overrides}."),
]


@_with_config(STRICT)
class CompareRow(TypedDict, total=False):
    """How one result field bears on one claim."""

    claim: Required[Name]
    field: Required[Annotated[str, _text(300)]]
    scale: Annotated[Num, _between(-1e30, 1e30, "result x scale is compared")]
    unit: Annotated[str, _text(60)]
    relation: Literal["==", "<=", ">=", "info"]
    tolerance: Annotated[Num, _between(0.0, 1e6, "relative tolerance")]
    note: Note
    role: Annotated[
        Literal["predicted", "assumed"],
        Field(description="predicted: an output of the model; assumed: one of its inputs."),
    ]
    assumption: Annotated[str, _text(1000, "the reading under which alone a match holds")]


@_with_config(STRICT)
class ClaimFigure(TypedDict, total=False):
    """A claimed figure given in the spec instead of seed_data/claims.yaml."""

    slug: Required[Name]
    value: Annotated[float | None, Strict(), Field(allow_inf_nan=False)]
    unit: Annotated[str, _text(60)]


CompareList = Annotated[list[CompareRow], Field(max_length=200)]
ClaimList = Annotated[list[ClaimFigure], Field(max_length=1000)]


@_with_config(STRICT)
class _Common(TypedDict, total=False):
    title: Annotated[str, _text(300)]
    seed: Annotated[Int, _between(0, 2**63 - 1, "recorded with the run")]
    compare: CompareList
    claims: ClaimList


@_with_config(STRICT)
class IntRange(TypedDict, total=False):
    """Integers start, start+step, ... up to stop (inclusive)."""

    start: Required[Annotated[Int, _between(1, 2**40, "first value")]]
    stop: Required[Annotated[Int, _between(1, 2**40, "last value (inclusive)")]]
    step: Annotated[Int, _between(1, 2**40, "increment")]


def _series_tag(value: Any) -> str | None:
    if isinstance(value, list):
        return f"{_TAG}list"
    if isinstance(value, dict):
        return f"{_TAG}range"
    return None


Series = Annotated[
    Annotated[
        list[Annotated[Int, _between(1, 2**24)]],
        Field(min_length=1, max_length=10000),
        Tag(f"{_TAG}list"),
    ]
    | Annotated[IntRange, Tag(f"{_TAG}range")],
    Discriminator(
        _series_tag,
        custom_error_type="series",
        custom_error_message="must be a list of integers or {start, stop, step}",
    ),
]


# ---- llm-training ----

Batch = TypedDict(
    "Batch",
    {
        "micro": NotRequired[
            Annotated[Int, _between(1, 2**20, "sequences per micro-batch (default 1)")]
        ],
        "global": NotRequired[
            Annotated[Int, _between(1, 2**30, "sequences per step (default micro x dp)")]
        ],
    },
)
Batch.__pydantic_config__ = STRICT  # type: ignore[attr-defined]  # "global" is a keyword


def _auto_tag(value: Any) -> str:
    return f"{_TAG}auto" if isinstance(value, str) else f"{_TAG}value"


# "auto": the runner searches the values that fit, takes the fastest and reports its choice
# (``result["auto"]``).
AutoInterleave = Annotated[
    Annotated[Int, _between(1, 1024), Tag(f"{_TAG}value")]
    | Annotated[Literal["auto"], Tag(f"{_TAG}auto")],
    Discriminator(_auto_tag),
    Field(description='virtual stages per pipeline rank (default 1); "auto" searches them'),
]
AutoMicro = Annotated[
    Annotated[Int, _between(1, 2**20), Tag(f"{_TAG}value")]
    | Annotated[Literal["auto"], Tag(f"{_TAG}auto")],
    Discriminator(_auto_tag),
    Field(
        description='sequences per micro-batch (default 1); "auto" searches the divisors of '
        "global / dp (batch.global is then required)"
    ),
]


TrainingBatch = TypedDict(
    "TrainingBatch",
    {
        "micro": NotRequired[AutoMicro],
        "global": NotRequired[
            Annotated[Int, _between(1, 2**30, "sequences per step (default micro x dp)")]
        ],
    },
)
TrainingBatch.__pydantic_config__ = STRICT  # type: ignore[attr-defined]


@_with_config(STRICT)
class Model(TypedDict, total=False):
    """A decoder-only transformer."""

    layers: Required[Annotated[Int, _between(1, 10_000, "transformer layers")]]
    hidden: Required[Annotated[Int, _between(1, 2**20, "hidden size")]]
    heads: Required[Annotated[Int, _between(1, 2**16, "attention heads")]]
    kv_heads: Annotated[Int, _between(1, 2**16, "key/value heads (default heads; GQA when fewer)")]
    ffn_hidden: Annotated[Int, _between(1, 2**22, "MLP hidden size (default 4 x hidden)")]
    seq_len: Required[Annotated[Int, _between(1, 2**24, "tokens per sequence")]]
    vocab: Annotated[Int, _between(1, 2**22, "vocabulary size (default 51200)")]
    mlp: Literal["gelu", "swiglu"]
    attention: Literal["standard", "flash"]


@_with_config(STRICT)
class Parallelism(TypedDict, total=False):
    """Layout tp x cp x pp x dp and how the schedule overlaps communication."""

    tp: Annotated[Int, _between(1, 2**16, "tensor-parallel size (default 1)")]
    pp: Annotated[Int, _between(1, 2**16, "pipeline stages (default 1)")]
    dp: Annotated[Int, _between(1, 2**24, "data-parallel size (default 1)")]
    cp: Annotated[Int, _between(1, 2**16, "context-parallel size (default 1)")]
    interleave: AutoInterleave
    zero: Annotated[Int, _between(0, 3, "ZeRO stage 0..3 (3 = FSDP)")]
    shard_group: Annotated[
        Int, _between(1, 2**24, "ranks one shard spans (hybrid sharding); default dp")
    ]
    sequence_parallel: Flag
    dp_overlap: Flag
    param_gather_overlap: Flag
    tp_overlap: Annotated[
        Num, _between(0.0, 1.0, "fraction of tensor-parallel communication hidden")
    ]


def _parallelism_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return f"{_TAG}auto"
    if isinstance(value, dict):
        return f"{_TAG}layout"
    return None


ParallelismOrAuto = Annotated[
    Annotated[Literal["auto"], Tag(f"{_TAG}auto")] | Annotated[Parallelism, Tag(f"{_TAG}layout")],
    Discriminator(
        _parallelism_tag,
        custom_error_type="parallelism",
        custom_error_message='must be a mapping {tp, pp, dp, ...} or "auto"',
    ),
]

_SweepList = Annotated[
    list[Annotated[Int, _between(1, 2**24, "")]],
    Field(min_length=1, max_length=MAX_SWEEP_VALUES),
]


@_with_config(STRICT)
class Sweep(TypedDict, total=False):
    """Layouts a sweep (or `parallelism: auto`) searches; defaults cover the usual ones."""

    num_accelerators: Annotated[
        Int, _between(1, 2**24, "accelerators to lay out (default: the whole system)")
    ]
    tp: _SweepList
    cp: _SweepList
    pp: _SweepList
    micro: _SweepList
    interleave: _SweepList
    zero: Annotated[list[Annotated[Int, _between(0, 3, "")]], Field(min_length=1, max_length=4)]
    recompute: Annotated[
        list[Literal["none", "selective", "full"]], Field(min_length=1, max_length=3)
    ]
    use_all: Flag


Precision = Literal["bf16", "fp16", "fp8"]
Recompute = Literal["none", "selective", "full"]
Stack = Literal["megatron-2021", "megatron-core", "nemo", "fsdp", "fsdp-eager"]


@_with_config(STRICT)
class TrainingSpec(_Common, total=False):
    """One optimizer step of a transformer on a layout (or the best layout: auto)."""

    kind: Required[Literal["llm-training"]]
    hardware: Required[Hardware]
    model: Required[Model]
    parallelism: ParallelismOrAuto
    batch: TrainingBatch
    precision: Precision
    recompute: Annotated[
        Literal["none", "selective", "full", "auto"],
        Field(description='activation recompute (default none); "auto" searches all three'),
    ]
    stack: Stack
    sweep: Sweep


# ---- llm-max-model and llm-scaling ----


@_with_config(STRICT)
class MaxModelModel(TypedDict, total=False):
    """The fixed part of the models searched."""

    seq_len: Required[Annotated[Int, _between(1, 2**24, "tokens per sequence")]]
    vocab: Annotated[Int, _between(1, 2**22, "vocabulary size (default 50257)")]
    head_dim: Annotated[Int, _between(1, 2**12, "hidden per head (default 64)")]
    attention: Literal["standard", "flash"]


@_with_config(STRICT)
class Search(TypedDict):
    """The layers x hidden grid searched."""

    hidden: Annotated[Series, Field(description="hidden sizes")]
    layers: Annotated[Series, Field(description="layer counts")]


@_with_config(STRICT)
class MaxModelSpec(_Common, total=False):
    """The largest GPT of a grid whose training state fits the chosen memory tiers."""

    kind: Required[Literal["llm-max-model"]]
    hardware: Required[Hardware]
    tiers: Annotated[list[Name], Field(min_length=1, max_length=16)]
    model: Required[MaxModelModel]
    search: Required[Search]
    batch: Batch
    precision: Precision
    recompute: Recompute


@_with_config(STRICT)
class ScalingBatch(TypedDict, total=False):
    """Sequences per chip and per micro-batch."""

    per_chip_global: Annotated[Int, _between(1, 2**20, "sequences per chip per step")]
    micro: Annotated[Int, _between(1, 2**20, "sequences per micro-batch")]


@_with_config(STRICT)
class ScalingSpec(_Common, total=False):
    """Data-parallel weak scaling over chip counts."""

    kind: Required[Literal["llm-scaling"]]
    hardware: Required[Hardware]
    model: Required[Model]
    chips: Required[Annotated[Series, Field(description="chip counts")]]
    batch: ScalingBatch
    precision: Precision
    recompute: Recompute


# ---- gemm, collective ----


@_with_config(STRICT)
class Gemm(TypedDict, total=False):
    """(m x k) @ (k x n), ``batch`` times."""

    m: Required[Annotated[Int, _between(1, 2**24, "rows")]]
    n: Required[Annotated[Int, _between(1, 2**24, "columns")]]
    k: Required[Annotated[Int, _between(1, 2**24, "inner dimension")]]
    batch: Annotated[Int, _between(1, 2**20, "independent GEMMs")]
    memory_tier: Name


@_with_config(STRICT)
class GemmSpec(_Common, total=False):
    """One GEMM on the roofline."""

    kind: Required[Literal["gemm"]]
    hardware: Required[Hardware]
    precision: Literal["fp32", "bf16", "fp16", "fp8", "int8"]
    gemm: Gemm
    # The GEMM's keys may instead sit at the top level (the older form).
    m: Annotated[Int, _between(1, 2**24, "rows (when there is no gemm section)")]
    n: Annotated[Int, _between(1, 2**24, "columns (when there is no gemm section)")]
    k: Annotated[Int, _between(1, 2**24, "inner dimension (when there is no gemm section)")]
    batch: Annotated[Int, _between(1, 2**20, "independent GEMMs (when there is no gemm section)")]
    memory_tier: Name


@_with_config(STRICT)
class Collective(TypedDict, total=False):
    """One collective over the network."""

    op: Literal["all-reduce", "all-gather", "reduce-scatter"]
    bytes: Required[Annotated[Num, _between(0.0, 1e18, "message size in bytes")]]
    participants: Annotated[Int, _between(1, 2**24, "accelerators (default: the whole system)")]
    algorithm: Literal["auto", "hierarchical", "ring", "mesh2d"]


@_with_config(STRICT)
class CollectiveSpec(_Common, total=False):
    """One collective."""

    kind: Required[Literal["collective"]]
    hardware: Required[Hardware]
    collective: Collective
    # The collective's keys may instead sit at the top level (the older form).
    op: Literal["all-reduce", "all-gather", "reduce-scatter"]
    bytes: Annotated[Num, _between(0.0, 1e18, "message size in bytes")]
    participants: Annotated[Int, _between(1, 2**24, "accelerators")]
    algorithm: Literal["auto", "hierarchical", "ring", "mesh2d"]


# ---- nn-inference ----


@_with_config(STRICT)
class Op(TypedDict, total=False):
    """One op (or ``repeat`` identical ops) of a network."""

    name: Name
    macs: Required[Annotated[Num, _between(0.0, 1e18, "multiply-accumulates")]]
    weight_bytes: Annotated[Num, _between(0.0, 1e15, "weight bytes")]
    act_bytes: Annotated[Num, _between(0.0, 1e15, "activation bytes")]
    repeat: Annotated[Int, _between(1, 100_000, "identical ops")]


_Ops = Annotated[list[Op], Field(max_length=1000)]


@_with_config(STRICT)
class Network(TypedDict, total=False):
    """A per-camera backbone and heads run once per frame on the fused features."""

    feature_bytes: Annotated[Num, _between(0.0, 1e15, "features one camera sends to the heads")]
    backbone: _Ops
    heads: _Ops


@_with_config(STRICT)
class InferenceSpec(_Common, total=False):
    """A camera network on the FSD computer, redundant or split across its SoCs."""

    kind: Required[Literal["nn-inference"]]
    hardware: Hardware
    mode: Literal["redundant", "split"]
    cameras: Required[Annotated[Int, _between(1, 1024, "cameras")]]
    target_fps: Required[
        Annotated[Num, Field(gt=0.0, le=1e6, description="frames per second to meet")]
    ]
    network: Required[Network]


# ---- consistency ----


@_with_config(STRICT)
class ConsistencySpec(_Common, total=False):
    """Aggregate figures recomputed from their parts, against the claims."""

    kind: Required[Literal["consistency"]]
    tolerance: Annotated[Num, _between(0.0, 100.0, "relative tolerance (default 0.10)")]
    slugs: Annotated[list[Name], Field(max_length=1000)]


KIND_SCHEMAS: dict[str, Any] = {
    "gemm": GemmSpec,
    "collective": CollectiveSpec,
    "llm-training": TrainingSpec,
    "nn-inference": InferenceSpec,
    "consistency": ConsistencySpec,
    "llm-max-model": MaxModelSpec,
    "llm-scaling": ScalingSpec,
}
KINDS = tuple(KIND_SCHEMAS)


@_with_config(STRICT)
class Scenario(TypedDict, total=False):
    """A named spec linked to capabilities and claims (seed_data/workloads/*.yaml)."""

    id: Required[Name]
    title: Annotated[str, _text(300)]
    # What it runs in a few words ("GPT-3 175B training"): names its findings beside a claim.
    workload: Annotated[str, _text(120)]
    capabilities: Annotated[list[Name], Field(max_length=100)]
    claims: Annotated[list[Name], Field(max_length=100)]
    # The claimed figures the model takes as inputs (compare rows say their own role).
    assumes: Annotated[list[Name], Field(max_length=100)]
    compare: CompareList
    spec: Required[dict[str, Any]]


# ---- checking ----


@cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def check(spec: Any, prefix: str = "") -> dict[str, Any]:
    """Return ``spec`` validated (as plain data); raise SpecError naming the first bad field.

    A mapping without ``kind`` but with a ``spec`` mapping is a scenario; its spec is checked
    with ``spec.`` in front of the field names.
    """
    if not isinstance(spec, dict):
        raise SpecError(prefix.rstrip(".") or "spec", "must be a mapping")
    if "kind" not in spec and "spec" in spec:
        out = _validate(Scenario, spec, prefix)
        out["spec"] = check(spec["spec"], f"{prefix}spec.")
        return out
    kind = spec.get("kind")
    schema = KIND_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise SpecError(
            f"{prefix}kind", f"unknown workload kind {kind!r}; use one of {', '.join(KINDS)}"
        )
    out = _validate(schema, spec, prefix)
    if kind in _SECTIONS:
        _check_section(out, kind, prefix)
    hw = out.get("hardware")
    if isinstance(hw, dict):
        if not isinstance(hw.get("base") or hw.get("id"), str):
            raise SpecError(f"{prefix}hardware.base", "must name a hardware id")
        _check_overrides(hw.get("overrides") or {}, f"{prefix}hardware.overrides.")
    return out


# Kinds whose section's keys may sit at the top level instead: section -> (keys, required).
_SECTIONS = {
    "gemm": (("m", "n", "k", "batch", "memory_tier"), ("m", "n", "k")),
    "collective": (("op", "bytes", "participants", "algorithm"), ("bytes",)),
}


def _check_section(out: dict[str, Any], kind: str, prefix: str) -> None:
    keys, required = _SECTIONS[kind]
    if kind in out:
        for key in keys:
            if key in out:
                raise SpecError(f"{prefix}{key}", f"belongs in the {kind} section (given too)")
        return
    for key in required:
        if key not in out:
            raise SpecError(f"{prefix}{kind}", "is required")


def _validate(schema: Any, spec: dict[str, Any], prefix: str) -> dict[str, Any]:
    try:
        return dict(_adapter(schema).validate_python(spec))
    except ValidationError as exc:
        raise _spec_error(schema, exc, prefix) from None
    except RecursionError:
        raise SpecError(prefix.rstrip(".") or "spec", "is nested too deeply") from None


def _check_overrides(overrides: dict[str, Any], prefix: str) -> None:
    for path, value in overrides.items():
        lo, hi, excl, integer, null = _override_rule(path)
        field = f"{prefix}{path}"
        if value is None:
            if not null:
                raise SpecError(field, "must be a number, not null")
            continue
        try:
            value = float(_number(value))
        except (ValueError, TypeError, OverflowError):
            raise SpecError(field, f"must be a number, got {value!r}") from None
        if not math.isfinite(value):
            raise SpecError(field, "must be a finite number")
        if value < lo or (excl and value == lo) or value > hi:
            low = f"> {lo:g}" if excl else f">= {lo:g}"
            raise SpecError(field, f"must be {low} and <= {hi:g}, got {value!r}")
        if integer and value != int(value):
            raise SpecError(field, f"must be an integer, got {value!r}")


def _spec_error(schema: Any, exc: ValidationError, prefix: str) -> SpecError:
    errors = exc.errors(include_url=False)
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(_TAG))]
    field = prefix + _path(loc)
    field = field.rstrip(".") or "spec"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _keys_at(schema, loc[:-1])
        hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
        msg = f"unknown key {str(loc[-1])!r}{hint}"
    elif kind == "missing":
        msg = "is required"
    elif kind in _TYPE_WORDS:
        msg = f"must be {_TYPE_WORDS[kind]}, got {_short(err.get('input'))}"
    elif kind == "finite_number":
        msg = f"must be a finite number, got {_short(err.get('input'))}"
    elif kind == "literal_error":
        msg = f"must be {err['ctx']['expected']}, got {_short(err.get('input'))}"
    elif kind in ("less_than_equal", "greater_than_equal", "greater_than", "less_than"):
        msg = f"{err['msg'].replace('Input should be', 'must be')}, got {_short(err.get('input'))}"
    else:
        msg = err["msg"].replace("Value error, ", "").replace("Input should be", "must be")
    more = len(errors) - 1
    return SpecError(field, msg + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


_TYPE_WORDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "list_type": "a list",
    "typed_dict_type": "a mapping",
}


def _path(loc: list[Any]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys_at(schema: Any, loc: list[Any]) -> list[str]:
    """Return the keys a mapping at ``loc`` of ``schema`` allows (empty if unknown)."""
    node = schema
    for p in [*loc, None]:
        node = _unwrap(node)
        if isinstance(p, int):
            args = typing.get_args(node)
            node = args[0] if args else None
            continue
        hints = _typed_dict_keys(node)
        if hints is None:
            return []
        if p is None:
            return list(hints)
        node = hints.get(p)
    return []


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated or typing.get_origin(tp) in (Required, NotRequired):
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) is Union:
        members = [a for a in typing.get_args(tp) if _typed_dict_keys(_unwrap(a)) is not None]
        return _unwrap(members[0]) if members else tp
    return tp


def _typed_dict_keys(tp: Any) -> dict[str, Any] | None:
    if isinstance(tp, type) and hasattr(tp, "__required_keys__"):
        return typing.get_type_hints(tp, include_extras=True)
    return None


@cache
def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a spec (any kind) or a scenario file."""
    spec_union = Annotated[
        GemmSpec
        | CollectiveSpec
        | TrainingSpec
        | InferenceSpec
        | ConsistencySpec
        | MaxModelSpec
        | ScalingSpec,
        Field(discriminator="kind"),
    ]
    out: dict[str, Any] = TypeAdapter(spec_union).json_schema(ref_template="#/$defs/{model}")
    defs = out.pop("$defs", {})
    scenario = TypeAdapter(Scenario).json_schema(ref_template="#/$defs/{model}")
    defs.update(scenario.pop("$defs", {}))
    scenario["properties"]["spec"] = {"$ref": "#/$defs/Spec"}
    defs["Spec"] = out
    defs["Scenario"] = scenario
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "AI Day Ledger simulator spec",
        "description": "A workload spec (by kind) or a scenario {id, title, spec, ...}.",
        "anyOf": [{"$ref": "#/$defs/Spec"}, {"$ref": "#/$defs/Scenario"}],
        "$defs": defs,
    }
