"""Model targets: every model of a run (base, fine-tune, checkpoint) resolved once, from one place.

A run's :class:`Targets` hashes each base model's weights once and derives every fine-tune's
identity from its inputs (base fingerprint, dataset bytes, spec, seed, trainer format), so the sample
keys of a model are the same whichever stage or command asks. Fine-tunes appear only once finished;
nothing here trains or loads a model.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

from .backends import Target, resolve_base_path
from .config import Experiment
from .errors import SpilloverError
from .keys import content_key
from .store import RunDir, atomic_write_text

FORMAT_VERSION = 2
"""Bumped when a trainer's output changes for the same spec (part of every LoRA fine-tune's key). 2: LoRA
settings ``rslora`` and ``dropout`` reach PEFT (version 1 silently trained every adapter with PEFT's
defaults)."""


def finetune_name(ft: str, seed: int) -> str:
    """The model name of one seed of a fine-tune.

    >>> finetune_name("insecure", 2)
    'insecure-s2'
    """
    return f"{ft}-s{seed}"


def file_fingerprint(path: Path) -> str:
    """Hash of a weights folder's safetensors files (content, not location), or of the name itself.

    Files under 64 MB are hashed whole; larger ones by size and three 1 MB samples (start, middle,
    end), which tells apart any two sets of trained weights without reading gigabytes. Not
    guaranteed: two large files differing only outside the sampled windows hash alike."""
    p = Path(path)
    files = sorted(p.glob("*.safetensors")) if p.is_dir() else []
    if not files:
        return str(path)
    h = hashlib.sha256()
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        if size < 64 << 20:
            h.update(f.read_bytes())
            continue
        with open(f, "rb") as fh:
            for offset in (0, size // 2, size - (1 << 20)):
                fh.seek(offset)
                h.update(fh.read(1 << 20))
    return h.hexdigest()[:20]


DATA_KEY = "data.key"
"""The file in a fine-tune folder naming the dataset versions it is made from."""


def data_fingerprint(path: Path) -> str:
    """Hash of a dataset file's bytes (part of every fine-tune's model fingerprint)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]


class Targets:
    """The targets of one run. Cheap to make; each base is hashed at most once per instance."""

    def __init__(self, run: RunDir, exp: Experiment) -> None:
        self.run, self.exp = run, exp
        self._data: dict[str, str] = {}

    @cached_property
    def bases(self) -> dict[str, Target]:
        out = {}
        for name, spec in self.exp.models.items():
            path = resolve_base_path(spec)
            fp = content_key("model", weights=file_fingerprint(Path(path)), gguf=spec.gguf_file,
                             **({"adapter": file_fingerprint(Path(spec.adapter))} if spec.adapter else {}))
            out[name] = Target(name=name, group=name, spec=spec, path=path, fingerprint=fp, adapter=spec.adapter)
        return out

    def finetune_key(self, ft_name: str, seed: int) -> str:
        """What determines a fine-tune's weights; needs its dataset built. LoRA fine-tunes also hash the
        trainer format (adapters made before the LoRA fix get new keys); full ones keep theirs."""

        ft = self.exp.finetunes[ft_name]
        val = ft.early_stop.validation if ft.early_stop else None
        fmt: dict[str, object] = {"format": FORMAT_VERSION} if ft.method == "lora" else {}
        if ft.intervene:
            fmt["direction"] = self.training_hook_key(ft_name)
        if val is not None:
            fmt["validation"] = self._dataset_key(val)
        start = self.bases[ft.base].fingerprint if ft.continues is None else \
            content_key("continues", parent=self.finetune_key(ft.continues, seed))
        return content_key("finetune", base=start, data=self._dataset_key(ft.dataset),
                           spec=ft.model_dump(mode="json", exclude_defaults=True), seed=seed, **fmt)

    def _dataset_key(self, name: str) -> str:
        """A dataset file's fingerprint, read once per instance."""
        if name not in self._data:
            self._data[name] = data_fingerprint(self.run.dataset(name))
        return self._data[name]

    def check_data(self, ft_name: str, seed: int, record: bool = False) -> None:
        """Refuse a fine-tune folder made from another version of its datasets, or of the fine-tune it
        continues (``DATA_KEY`` in it, written before training starts when ``record``); folders from before
        this check have none and pass."""
        ft = self.exp.finetunes[ft_name]
        folder = self.run.finetune_dir(finetune_name(ft_name, seed))
        val = ft.early_stop.validation if ft.early_stop else None
        parent = {"continues": self.finetune_key(ft.continues, seed)} if ft.continues else {}
        key = content_key("data", data=[self._dataset_key(d) for d in (ft.dataset, val) if d], **parent)
        marker = folder / DATA_KEY
        if marker.exists() and marker.read_text() != key:
            what = f"dataset {ft.dataset!r}" + (f" or of {ft.continues!r}" if ft.continues else "")
            raise SpilloverError(f"made from another version of {what}; move the folder away to retrain it",
                                 file=folder, field="continues" if ft.continues else "dataset")
        if record and not marker.exists():
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(marker, key)

    def training_hook_key(self, ft_name: str) -> str | None:
        """The key of the direction a defended fine-tune (``intervene``) trains with; None until it is built."""
        from .interventions import parse_suffix
        from .vectors import file_key

        spec = self.exp.finetunes[ft_name].intervene
        return file_key(self.run.direction(parse_suffix(spec).source)) if spec else None

    def of_finetune(self, ft_name: str, seed: int) -> list[Target]:
        """One target per saved checkpoint of a finished fine-tune (the last is the final model); [] if
        it is not finished, or if it ended without a model (an API job that was refused)."""
        ft = self.exp.finetunes[ft_name]
        name = finetune_name(ft_name, seed)
        res = self.run.finetune_result(name)
        if res is None:
            return []
        base = self.bases[ft.base]
        if ft.backend == "openai":
            model_id = res.get("fine_tuned_model")
            return [Target(name=name, group=ft_name, seed=seed, spec=base.spec, path=model_id,
                           fingerprint=content_key("model", openai=model_id))] if model_id else []
        if ft.method == "lora" and res.get("format_version", 1) < 2:
            raise SpilloverError("trained before the LoRA fix (rslora and dropout were dropped); move the folder "
                                 "away to retrain it", file=self.run.finetune_dir(name), field="format_version")
        if ft.intervene and res.get("direction_key") != self.training_hook_key(ft_name):
            raise SpilloverError("trained with another version of its direction; move the folder away to retrain it",
                                 file=self.run.finetune_dir(name), field="direction_key")
        self.check_data(ft_name, seed)
        ft_fp = self.finetune_key(ft_name, seed)
        start = self.start_of(ft_name, seed) if ft.method == "lora" else base  # an adapter's own base
        if start is None:
            return []
        out = []
        for step in res["checkpoints"]:
            ck = str(self.run.finetune_dir(name) / f"step-{step}")
            lora = ft.method == "lora"
            out.append(Target(name=name, group=ft_name, seed=seed, checkpoint=None if step == res["steps"] else step,
                              spec=base.spec, path=start.path if lora else ck, adapter=ck if lora else None,
                              fingerprint=content_key("model", finetune=ft_fp, step=step)))
        return out

    def start_of(self, ft_name: str, seed: int) -> Target | None:
        """The model a fine-tune of ``seed`` starts from: its base, or the final model of the fine-tune it
        continues (None while that one is not finished)."""
        ft = self.exp.finetunes[ft_name]
        if ft.continues is None:
            return self.bases[ft.base]
        parent = self.of_finetune(ft.continues, seed)
        return parent[-1] if parent else None

    def unfinished(self) -> list[str]:
        """Names of fine-tunes (per seed) not finished yet (an API job that ended without a model is finished)."""
        names = [finetune_name(f, s) for f in self.exp.finetunes for s in self.exp.seeds]
        run = self.run
        return [n for n in names if run.finetune_result(n) is None and not run.finetune_ended_without_model(n)]

    def finished(self) -> list[Target]:
        """Base models and every checkpoint of every finished fine-tune."""
        out = list(self.bases.values())
        for f in self.exp.finetunes:
            for s in self.exp.seeds:
                out += self.of_finetune(f, s)
        return out

    def for_eval(self, *, strict: bool = False) -> list[Target]:
        """The finished targets the eval block asks for: by group or model name (checkpoints only if
        ``eval.checkpoints``), or one checkpoint as ``name@step``. ``strict``: a ``name@step`` that
        matches no saved checkpoint of a finished fine-tune is an error."""
        finished = self.finished()
        return select(self.exp, finished, strict=strict) + self.variants(finished)

    def variants(self, finished: list[Target] | None = None) -> list[Target]:
        """The intervened models of ``eval.variants`` whose model is finished and whose direction is built
        (one per seed of a fine-tune); the others wait (:meth:`waiting_variants`). ``finished``: the
        caller's :meth:`finished`, when it has it."""
        from .interventions import parse_all
        from .vectors import load, mean_activation, mean_projections, pick

        if not self.exp.eval.variants:
            return []
        out: list[Target] = []
        finals = [t for t in (self.finished() if finished is None else finished) if t.checkpoint is None]
        loaded = {}
        for v in parse_all(self.exp.eval.variants):
            i, path = v.intervention, self.run.direction(v.intervention.source)
            if i.source not in loaded and path.exists():
                loaded[i.source] = load(path)
            if (d := loaded.get(i.source)) is None:
                continue
            vector, layer = pick(d, i)
            offsets = mean_projections(mean_activation(d, self.run.activations_dir), vector) if i.mean else None
            kept = {"offsets": [round(x, 6) for x in offsets]} if offsets else {}  # new answers kept: new means
            out += [t.model_copy(update={
                "name": t.name + i.suffix, "group": t.group + i.suffix, "intervention": i, "vector": tuple(vector),
                "layer": layer, "offsets": offsets, "fingerprint": content_key(
                    "model", of=t.fingerprint, intervention=i.suffix, direction=d.meta["key"], **kept)})
                for t in finals if v.model in (t.group, t.name)]
        return out

    def waiting_variants(self) -> list[str]:
        """Variants of ``eval.variants`` whose direction is not built yet."""
        from .interventions import parse_all

        have = self.variants()
        built = {t.group for t in have} | {t.name for t in have}
        wanted = [v.model + v.intervention.suffix for v in parse_all(self.exp.eval.variants)]
        return [w for w in wanted if w not in built]


def select(exp: Experiment, targets: list[Target], *, strict: bool = False) -> list[Target]:
    """The subset of ``targets`` that ``exp.eval.models`` names (see :meth:`Targets.for_eval`)."""
    wanted = exp.eval.models
    if wanted == "all":
        return [t for t in targets if exp.eval.checkpoints or t.checkpoint is None]
    out = []
    for t in targets:
        step = t.checkpoint
        labels = {f"{t.group}@{step}", f"{t.name}@{step}"} if step is not None else set()
        if ((t.group in wanted or t.name in wanted) and (exp.eval.checkpoints or step is None)) or labels & set(wanted):
            out.append(t)
    if strict:
        for m in wanted:
            name, _, at = m.partition("@")
            if at and not any(t.checkpoint == int(at) and name in (t.name, t.group) for t in out):
                saved = sorted({t.checkpoint for t in targets if name in (t.name, t.group) and t.checkpoint})
                raise SpilloverError(f"no checkpoint at step {at} for {name!r} (saved: {saved}; the final model "
                                     "is the plain name)", field="eval.models")
    return out
