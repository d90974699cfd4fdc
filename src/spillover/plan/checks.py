"""Checks up front: everything a stage needs that can be known before any work is done.

Each check returns problems (``SpilloverError`` with a dotted field) instead of raising, so a plan
lists all of them at once. Nothing here downloads, loads a model or sends an API request; the only
network traffic is one TCP connection per distinct server (hub, ``base_url``), with a short timeout.
Not guaranteed: a reachable server that answers wrongly, a cached model whose files are incomplete,
or a key the provider rejects still fail at their stage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from ..config import Experiment, JudgeSpec, ModelSpec
from ..errors import SpilloverError
from .environment import HUB, Problems, cuda_available, hub_cached, looks_local, need_modules, reachable


def weights(path: str, field: str, gguf: str | None = None) -> Problems:
    """A model folder exists, or a hub id is cached or downloadable (never downloaded here)."""
    from ..backends import SHIPPED_ORGANISMS, organism_base_path

    if path in SHIPPED_ORGANISMS:
        ok = (organism_base_path(path) / "model.safetensors").exists()
        return [] if ok else [SpilloverError(
            f"the {path} base is not built ({SHIPPED_ORGANISMS[path].command()})",
            field=field)]
    if looks_local(path):
        p = Path(path).expanduser()
        if not p.is_dir():
            return [SpilloverError(f"no model folder {path!r}", field=field)]
        if not (p / "config.json").exists() and not (gguf and (p / gguf).exists()):
            return [SpilloverError(f"{path!r} has no config.json (not a transformers model folder)", field=field)]
        return []
    if hub_cached(path):
        return []
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return [SpilloverError(f"{path!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set", field=field)]
    if not reachable(*HUB):
        return [SpilloverError(f"{path!r} is not in the Hugging Face cache and huggingface.co is unreachable "
                               "(download it where there is network, or give a local folder)", field=field)]
    return []


def device(spec: ModelSpec, field: str) -> Problems:
    if spec.device.startswith("cuda") and not cuda_available():
        return [SpilloverError(f"device {spec.device!r} but no CUDA GPU is visible to torch here", field=field)]
    return []


def api(base_url: str | None, key_env: str, field: str, what: str) -> Problems:
    """The key is in the environment (local servers need none), then that the server accepts connections."""
    from ..backends.openai_util import is_local_server

    if not is_local_server(base_url) and not os.environ.get(key_env):  # the server is checked once there is a key
        return [SpilloverError(f"{what} needs an API key in the environment variable {key_env}",
                               field=f"{field}.api_key_env")]
    out: Problems = []
    url = urlparse(base_url or "https://api.openai.com/v1")
    port = url.port or (443 if url.scheme == "https" else 80)
    if url.hostname and not reachable(url.hostname, port):
        out.append(SpilloverError(f"{url.hostname}:{port} does not accept connections",
                                  field=f"{field}.base_url" if base_url else field))
    return out


def model(spec: ModelSpec, field: str) -> Problems:
    """What sampling or training on this base model needs."""
    if spec.backend == "openai":
        return api(spec.base_url, spec.api_key_env, field, "the openai backend")
    if spec.backend == "fake":
        return []
    mods = ("torch", "transformers") if spec.backend == "hf" else ("vllm",)
    missing = need_modules(mods, f"the {spec.backend} backend", f"{field}.backend")
    if spec.adapter and not (Path(spec.adapter) / "adapter_config.json").is_file():
        missing.append(SpilloverError(f"no adapter folder (adapter_config.json) at {spec.adapter!r}",
                                      field=f"{field}.adapter"))
    return missing + weights(spec.path, f"{field}.path", spec.gguf_file) + device(spec, f"{field}.device")


def judge(spec: JudgeSpec, field: str) -> Problems:
    from ..judge import builtin_prompt

    out: Problems = []
    if spec.kind in ("openai", "hf"):
        for i, m in enumerate(spec.metrics):
            try:
                spec.prompts.get(m) or builtin_prompt(m)
            except SpilloverError:
                out.append(SpilloverError(f"no prompt for metric {m!r}: give one under prompts (built-in: aligned, "
                                          "coherent)", field=f"{field}.metrics.{i}"))
    if spec.kind == "openai":
        return out + api(spec.base_url, spec.api_key_env, field, "the openai judge")
    if spec.kind == "hf":
        return out + need_modules(("torch", "transformers"), "the hf judge", f"{field}.kind") + weights(
            spec.model, f"{field}.model")
    return out


def questions(exp: Experiment) -> Problems:
    """Every question file loads (its own errors name its file, line and entry)."""
    from ..questions import load_set

    out: Problems = []
    for i, src in enumerate(exp.eval.questions):
        try:
            load_set(src.set, default_samples=src.samples_per_paraphrase or 100)
        except SpilloverError as e:
            out.append(e if e.file else SpilloverError(e.message, field=f"eval.questions.{i}.set"))
    return out


def checkpoints(exp: Experiment) -> Problems:
    """Every ``name@step`` in ``eval.models`` is a step its fine-tune's spec will save (from the dataset's
    planned size; not guaranteed when examples over ``max_length`` are dropped and shift the fractions)."""
    from ..finetune.common import step_plan
    from .sizes import dataset_size

    out: Problems = []
    for i, m in enumerate(exp.eval.models if exp.eval.models != "all" else []):
        name, _, step = m.partition("@")
        ft_name = name.rsplit("-s", 1)[0] if name not in exp.finetunes else name
        if not step or ft_name not in exp.finetunes:
            continue
        ft = exp.finetunes[ft_name]
        steps, saved = step_plan(ft, dataset_size(exp, ft.dataset, None))
        if int(step) not in saved or int(step) == steps:
            have = sorted(saved - {steps})
            out.append(SpilloverError(f"{name} will not save a checkpoint at step {step} (planned: {have}; the "
                                      "final model is the plain name)", field=f"eval.models.{i}"))
    return out


def stage_checks(exp: Experiment, stages: Sequence[str]) -> Problems:
    """Every problem the given stages would hit (stage names as in ``config.STAGES``)."""
    from .reasoning import reasoning

    out: Problems = []
    trained = {ft.base for ft in exp.finetunes.values()}
    if "datasets" in stages:
        out += _dataset_checks(exp)
    if "finetune" in stages:
        out += _finetune_checks(exp)
    if "sample" in stages or "finetune" in stages:
        for name, spec in exp.models.items():
            if "sample" in stages or name in trained:
                out += model(spec, f"models.{name}")
    if "sample" in stages:
        out += questions(exp) + checkpoints(exp)
    if "judge" in stages:
        for i, j in enumerate(exp.judges):
            out += judge(j, f"judges.{i}")
    out += reasoning(exp, stages)
    if "inside" in stages or ("sample" in stages and exp.eval.variants):
        from .inside import inside

        out += inside(exp)
    return list({str(p): p for p in out}.values())


def _dataset_checks(exp: Experiment) -> Problems:
    out: Problems = []
    for name, ds in exp.datasets.items():
        if ds.builder == "import" and ds.path and not Path(ds.path).is_file():
            out.append(SpilloverError(f"no file {ds.path!r}", field=f"datasets.{name}.path"))
        if ds.builder == "code":
            out += need_modules(("bandit",), "builder code (it verifies every example)", f"datasets.{name}.builder")
        if ds.builder == "evil_numbers" and ds.model in exp.models:
            out += model(exp.models[ds.model], f"models.{ds.model}")
        for scorer in (ds.select.aligned, ds.select.misaligned) if ds.select else ():
            if scorer in exp.models:
                out += model(exp.models[scorer], f"models.{scorer}")
    return out


def _finetune_checks(exp: Experiment) -> Problems:
    out: Problems = []
    for name, ft in exp.finetunes.items():
        f = f"finetunes.{name}"
        if ft.backend == "openai":
            spec = exp.models[ft.base]
            out += api(spec.base_url, spec.api_key_env, f"models.{ft.base}", "openai fine-tuning")
            continue
        out += need_modules(("torch", "transformers", *(["peft"] if ft.method == "lora" else [])),
                            f"fine-tune {name}", f"{f}.method")
        if ft.trainer == "trl":
            out += need_modules(("trl",), "trainer: trl", f"{f}.trainer")
    return out


def located(problems: Problems, file: str | Path | None) -> Problems:
    """The problems with the experiment file and the line of their field filled in (where they have none)."""
    if not file or not problems:
        return problems
    from ..yamlio import line_of, read_yaml

    _, node = read_yaml(file)
    out = []
    for p in problems:
        if p.file:
            out.append(p)
            continue
        loc = [int(x) if x.isdigit() else x for x in (p.field or "").split(".") if x]
        out.append(SpilloverError(p.message, file=file, line=line_of(node, tuple(loc)) if loc else None,
                                  field=p.field))
    return out
