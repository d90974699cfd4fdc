"""Hours a run has left per stage: measured throughput where the run has it, else FLOPs on a named GPU
at the utilisation of ``rates.yaml``. Not guaranteed: first-order (no activations, no communication), and
CPU models get no number until one fine-tune or sample has been measured.
"""

from __future__ import annotations

import statistics
from typing import Any, NamedTuple

from ..config import Experiment
from ..rates import rates
from ..store import RunDir
from .sizes import CHARS_PER_TOKEN, model_file, param_count


class Hours(NamedTuple):
    """The hours one stage has left, or None where there is no basis for a number; ``basis`` says which."""

    stage: str
    hours: float | None
    basis: str


def _gpu_hours(flops: float, gpu: str, use: str) -> float:
    r = rates()
    return flops / (r["gpus"][gpu]["tflops"] * 1e12 * r["utilisation"][use]) / 3600


def _organism(spec: Any) -> bool:
    """A built-in organism base (shipped, or a build folder): its CPU throughput is in ``rates.yaml``."""
    return model_file(spec.path, "organism.json") is not None


def _on_organism(amount: float, rate: str, workers: int) -> float:
    return amount / (rates()["organism_cpu"][rate] * workers) / 3600


def _basis(gpu: str | None, organism: str | None, workers: int, api: bool = False) -> str:
    """What an estimate assumed: API latency, a GPU's utilisation, the organism's measured CPU rate."""
    r = rates()
    parts = [f"API calls at {r['api_seconds_per_call']} s each"] if api else []
    parts += [gpu] if gpu else []
    if organism:
        unit = {"train_tokens_per_s": "training tokens", "samples_per_s": "samples"}[organism]
        parts.append(f"the organism at {r['organism_cpu'][organism]:,} {unit}/s per worker x {workers} workers "
                     "(rates.yaml)")
    return "; ".join(parts)


def train_hours(exp: Experiment, run: RunDir | None, left: dict[str, float], gpu: str, workers: int) -> Hours:
    """Measured throughput of this run's finished fine-tunes where there is one, else FLOPs on a GPU (the
    organism's CPU rate for organism bases)."""
    measured = [r["tokens_per_s"] for r in (run.finetune_results().values() if run else []) if r.get("tokens_per_s")]
    if not any(left.values()):
        return Hours("finetune", 0.0, "nothing left")
    if measured:  # per process: organism fine-tunes run one per worker, others one at a time
        parallel = workers if all(_organism(exp.models[b]) for b, toks in left.items() if toks) else 1
        return Hours("finetune", sum(left.values()) / statistics.median(measured) / parallel / 3600,
                     f"measured {statistics.median(measured):,.0f} tokens/s in this run"
                     + (f" per worker x {parallel} workers" if parallel > 1 else ""))
    total, unknown, used = 0.0, [], set()
    for base, toks in left.items():
        spec, n = exp.models[base], param_count(exp.models[base])
        if _organism(spec):
            total += _on_organism(toks, "train_tokens_per_s", workers)
            used.add("organism")
        elif spec.device == "cpu" or n is None:
            unknown.append(base)
        else:
            lora = any(ft.method == "lora" for ft in exp.finetunes.values() if ft.base == base)
            total += _gpu_hours((4 if lora else 6) * n * toks, gpu, "train")
            used.add("gpu")
    if unknown:
        return Hours("finetune", None, f"unknown for {', '.join(unknown)} until one fine-tune has run here")
    return Hours("finetune", total, _basis(f"one {gpu} at {rates()['utilisation']['train']:.0%} of peak"
                                           if "gpu" in used else None,
                                           "train_tokens_per_s" if "organism" in used else None, workers))


def prompt_tokens(p: Any) -> float:
    """A planned sample's prompt (its paraphrase and system prompt) in tokens, at characters / 4."""
    q = p.question
    return (len(q.paraphrases[p.paraphrase_index]) + len(q.system or "")) / CHARS_PER_TOKEN


def sample_hours(left: list[tuple[Any, Any]], answer: float, gpu: str, workers: int) -> Hours:
    if not left:
        return Hours("sample", 0.0, "nothing left")
    total, unknown, used = 0.0, set(), set()
    by_target: dict[str, list[Any]] = {}
    for t, p in left:
        by_target.setdefault(t.label, [t]).append(p)
    for t, *ps in by_target.values():
        n = param_count(t.spec)
        if t.spec.backend == "openai":
            total += len(ps) * rates()["api_seconds_per_call"] / t.spec.batch_size / 3600
            used.add("api")
        elif _organism(t.spec):
            total += _on_organism(len(ps), "samples_per_s", workers)
            used.add("organism")
        elif t.spec.device == "cpu" or n is None:
            unknown.add(t.group)
        else:
            use = "sample_vllm" if t.spec.backend == "vllm" else "sample_hf"
            total += _gpu_hours(2 * n * sum(answer + prompt_tokens(p) for p in ps), gpu, use)
            used.add("gpu")
    if unknown:
        return Hours("sample", None, f"unknown on cpu ({len(unknown)} models: {', '.join(sorted(unknown)[:3])}"
                     f"{', …' if len(unknown) > 3 else ''}): no measurement")
    u = rates()["utilisation"]
    return Hours("sample", total, _basis(
        f"one {gpu} at {u['sample_vllm']:.0%} (vllm) / {u['sample_hf']:.0%} (hf) of peak" if "gpu" in used else None,
        "samples_per_s" if "organism" in used else None, workers, api="api" in used))
