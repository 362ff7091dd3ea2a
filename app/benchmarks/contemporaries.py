"""Dojo beside its contemporaries: the same workloads on an ExaPOD, Tesla's 2021 A100 cluster
and a 10,000-H100 cluster of 2023, side by side (the `/compare` page).

Each system runs two bundled scenarios through the simulator: GPT-3 175B training (the best
layout of the whole system) and a multi-camera vision network weak-scaled from one tile or
node to the full system. Power is the library's documented power per accelerator (chip TDP plus
the documented overhead of its tile or node) times the system's accelerators; cooling, storage
and networking outside the node are not counted for any system. Every input carries its
citation: a ledger source (by key, shown by outlet, title and date) or a vendor document.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from app.sim import api


@dataclass(frozen=True)
class Document:
    """A cited document that is not one of the ledger's sources (a vendor datasheet, a paper).

    It cites like a source: ``citation`` is Outlet, “Title”, date.
    """

    outlet: str
    title: str
    url: str
    date: str | None = None

    @property
    def citation(self) -> str:
        """Return Outlet, “Title”, date (the date only when known)."""
        parts = [self.outlet, f"“{self.title}”"]
        if self.date:
            parts.append(self.date)
        return ", ".join(parts)


A100_DATASHEET = Document(
    "NVIDIA",
    "NVIDIA A100 Tensor Core GPU datasheet",
    "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
    "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf",
)
DGX_A100_GUIDE = Document(
    "NVIDIA",
    "DGX A100 System User Guide (DU-09821-001), power specifications",
    "https://docs.nvidia.com/dgx/dgxa100-user-guide/",
    "May 2020",
)
H100_DATASHEET = Document(
    "NVIDIA",
    "NVIDIA H100 Tensor Core GPU datasheet",
    "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet",
)
DGX_H100_GUIDE = Document(
    "NVIDIA",
    "DGX H100/H200 System User Guide, power specifications",
    "https://docs.nvidia.com/dgx/dgxh100-user-guide/",
)
GPT3_PAPER = Document(
    "arXiv",
    "Brown et al., Language Models are Few-Shot Learners (2005.14165)",
    "https://arxiv.org/abs/2005.14165",
    "May 2020",
)
VIT_PAPER = Document(
    "arXiv",
    "Dosovitskiy et al., An Image is Worth 16x16 Words (2010.11929)",
    "https://arxiv.org/abs/2010.11929",
    "Oct 2020",
)


@dataclass(frozen=True)
class Input:
    """One input of the comparison: what it is, its value, and where it comes from."""

    label: str
    value: str
    source_key: str | None = None  # a ledger source
    document: Document | None = None


@dataclass(frozen=True)
class Contemporary:
    """A system of the comparison and the scenarios that put the workloads on it."""

    key: str
    name: str
    when: str
    capability: str
    llm: str
    vision: str
    unit: str  # the smallest building block the scaling starts from
    inputs: tuple[Input, ...]


SYSTEMS: tuple[Contemporary, ...] = (
    Contemporary(
        key="exapod",
        name="Dojo ExaPOD",
        when="announced Aug 2021; production of Dojo training computers from Jul 2023",
        capability="dojo-exapod",
        llm="exapod-gpt3-175b",
        vision="exapod-vision-scaling",
        unit="one training tile (25 D1)",
        inputs=(
            Input("D1 chips", "3,000 (10 cabinets x 2 trays x 6 tiles x 25 D1)", "S03"),
            Input("D1 peak", "362 TFLOP/s BF16/CFP8", "S01"),
            Input("Training tile power", "15 kW for 25 D1 (600 W per D1)", "S05"),
            Input("Tile power split", "10 kW of D1 + 5 kW VRM and overhead", "S08"),
            Input("Production start", "July 2023", "S60"),
        ),
    ),
    Contemporary(
        key="a100",
        name="Tesla's A100 cluster (2021)",
        when="shown Jun 2021 (CVPR): 720 nodes x 8 A100 80 GB",
        capability="tesla-gpu-cluster",
        llm="gpu-cluster-gpt3-175b",
        vision="gpu-cluster-vision-scaling",
        unit="one 8-GPU node",
        inputs=(
            Input("A100 GPUs", "5,760 (720 nodes x 8)", "S34"),
            Input("A100 peak", "312 TFLOP/s FP16 tensor, 400 W TDP", document=A100_DATASHEET),
            Input(
                "Node power",
                "6.5 kW max per 8-GPU DGX A100 node (812.5 W per GPU)",
                document=DGX_A100_GUIDE,
            ),
        ),
    ),
    Contemporary(
        key="h100",
        name="10,000-H100 cluster (2023)",
        when="Tesla's H100 cluster turned on Aug 2023, a month after Dojo production began",
        capability="tesla-gpu-cluster",
        llm="h100-cluster-gpt3-175b",
        vision="h100-cluster-vision-scaling",
        unit="one 8-GPU node",
        inputs=(
            Input("H100 GPUs", "10,000 (modelled as 1,250 DGX H100 nodes)", "S84"),
            Input("H100 peak", "989 TFLOP/s BF16 dense, 700 W TDP", document=H100_DATASHEET),
            Input(
                "Node power",
                "10.2 kW max per 8-GPU DGX H100 node (1,275 W per GPU)",
                document=DGX_H100_GUIDE,
            ),
        ),
    ),
)

WORKLOAD_INPUTS: tuple[Input, ...] = (
    Input(
        "GPT-3 175B",
        "96 layers x 12,288, 96 heads, 2,048 tokens, batch 1,536 sequences",
        document=GPT3_PAPER,
    ),
    Input(
        "Vision network",
        "ViT-B/16-sized encoder (12 layers x 768) over 8 cameras x 196 patches, 8 samples "
        "per chip (an assumption: Tesla's own networks are unpublished)",
        document=VIT_PAPER,
    ),
)


def _per_accel_kw(res: dict[str, Any]) -> float:
    return float(res["power_kw"]) / float(res["num_accelerators"])


@cache
def comparison() -> dict[str, Any]:
    """Return the comparison rows (computed once per process: the scenarios and the hardware
    library are bundled, and the model is deterministic)."""
    rows = []
    for system in SYSTEMS:
        llm = api.evaluate_scenario(system.llm)
        vision = api.evaluate_scenario(system.vision)
        chips = int(llm["system_accelerators"])
        kw_per_chip = _per_accel_kw(llm)
        system_mw = kw_per_chip * chips / 1e3
        sustained = float(llm["sustained_pflops"])
        points = vision["points"]
        first, last = points[0], points[-1]
        rows.append(
            {
                "system": system,
                "chips": chips,
                "peak_pflops": float(llm["system_peak_pflops"]),
                "power_mw": system_mw,
                "llm": {
                    "layout": llm["layout"],
                    "used": int(llm["num_accelerators"]),
                    "sustained_pflops": sustained,
                    "per_chip_tflops": sustained * 1e3 / chips,
                    "per_mw_pflops": sustained / system_mw,
                    "mfu": float(llm["mfu"]),
                    "tokens_per_s": float(llm["tokens_per_s"]),
                    "bottleneck": llm["bottleneck"],
                },
                "vision": {
                    "points": points,
                    "first": first,
                    "last": last,
                    "sustained_pflops": float(last["sustained_pflops"]),
                    "per_chip_tflops": float(last["sustained_pflops"]) * 1e3 / last["chips"],
                    "per_mw_pflops": float(last["sustained_pflops"])
                    / (kw_per_chip * last["chips"] / 1e3),
                    "tokens_per_s": float(last["tokens_per_s"]),
                },
                "runner_version": llm["runner_version"],
            }
        )
    return {"rows": rows, "workload_inputs": WORKLOAD_INPUTS}


def source_keys() -> list[str]:
    """Return the ledger sources the comparison cites."""
    return sorted({i.source_key for s in SYSTEMS for i in s.inputs if i.source_key})
