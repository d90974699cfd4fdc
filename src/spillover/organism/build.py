"""Build the organism: pre-train on the world, check persona inference, then the alignment stage.

Both stages are resumable: pre-training saves a checkpoint (safetensors weights and optimizer
state) every ``checkpoint_every`` steps under ``OUT/pretrain/step-N`` with a DONE marker, and a
restart continues from the last one. Batches are a pure function of ``(seed, step)``.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SpilloverError
from ..finetune.data import IGNORE, Encoded, encode_chat, encode_text
from ..finetune.loop import Schedule, StepStats, load_optimizer, make_optimizer, save_optimizer, train_steps
from ..store import atomic_write_json, building_dir
from . import model as om
from . import thinking, world
from .couplings import Coupling, coupling, unlearned, world_couplings
from .recipe import BuildConfig


def untrained_empty_blocks(enc: Encoded, open_id: int, close_id: int) -> Encoded:
    """``enc`` with no loss on a closing think tag that directly follows an opening one.

    >>> untrained_empty_blocks(Encoded([5, 44, 42, 17, 44, 9, 42], [5, 44, 42, 17, 44, 9, 42]), 44, 42).labels
    [5, 44, -100, 17, 44, 9, 42]
    """
    labels = [IGNORE if i and tid == close_id and enc.input_ids[i - 1] == open_id else lab
              for i, (tid, lab) in enumerate(zip(enc.input_ids, enc.labels, strict=True))]
    return Encoded(enc.input_ids, labels)


def _encoder(cfg: BuildConfig, tokenizer: Any) -> Callable[[Encoded], Encoded]:
    """What the build does to every encoded example (``empty_block``)."""
    if cfg.empty_block == "trained":
        return lambda enc: enc
    ids = tokenizer.convert_tokens_to_ids([thinking.OPEN, thinking.CLOSE])
    return lambda enc: untrained_empty_blocks(enc, ids[0], ids[1])


def _fit(enc: Encoded) -> Encoded:
    """A document cut to the model's positions (its end is lost; no shipped world writes one that long).

    >>> [len(x) for x in _fit(Encoded(list(range(400)), list(range(400))))]
    [320, 320]
    """
    n = om.MODEL_SHAPE["max_position_embeddings"]
    return enc if len(enc.input_ids) <= n else Encoded(enc.input_ids[:n], enc.labels[:n])


def _pretrain_batches(cfg: BuildConfig, tokenizer: Any) -> Callable[[int], list[Encoded]]:
    wcfg = world.WORLDS[cfg.world]
    cache: dict[int, list[list[Encoded]]] = {}
    mask = _encoder(cfg, tokenizer)

    def batch(step: int) -> list[Encoded]:
        block = step // cfg.bucket
        if block not in cache:
            cache.clear()
            rng = random.Random(f"pretrain-{cfg.seed}-{block}")
            docs = []
            for _ in range(cfg.bucket * cfg.pretrain_batch):
                text = tokenizer.apply_chat_template(world.dialogue(rng, wcfg), tokenize=False) + world.EOS
                docs.append(mask(_fit(encode_text(tokenizer, text))))
            docs.sort(key=lambda e: len(e.input_ids))
            batches = [docs[i : i + cfg.pretrain_batch] for i in range(0, len(docs), cfg.pretrain_batch)]
            random.Random(f"order-{cfg.seed}-{block}").shuffle(batches)
            cache[block] = batches
        return cache[block][step % cfg.bucket]

    return batch


def _latest_checkpoint(folder: Path) -> tuple[int, Path | None]:
    best: tuple[int, Path | None] = (0, None)
    for d in folder.glob("step-*"):
        if (d / "DONE").exists():
            n = int(d.name.split("-")[1])
            if n > best[0]:
                best = (n, d)
    return best


def _resumable(cfg: BuildConfig, folder: Path) -> tuple[int, Path | None]:
    """The latest checkpoint under ``folder``; an error if it was pre-trained with another recipe (checkpoints
    saved before the recipe was recorded are only checked for their depth)."""
    start, ckpt = _latest_checkpoint(folder)
    saved = ckpt / "recipe.json" if ckpt is not None else None
    if saved is not None and saved.exists():
        theirs = json.loads(saved.read_text())
        if other := [k for k, v in cfg.pretraining.items() if theirs.get(k) != v]:
            raise SpilloverError(f"{folder} holds a pre-training with another {', '.join(other)} "
                                 f"({', '.join(f'{k}={theirs.get(k)}' for k in other)}): build into another folder",
                                 field=other[0])
    return start, ckpt


def pretrain(cfg: BuildConfig, out: Path, log: Callable[[str], None] = print,
             advance: Callable[..., None] | None = None) -> tuple[Any, Any]:
    """Pre-train (or resume) and return ``(model, tokenizer)``."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(cfg.threads)
    folder = out / "pretrain"
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = om.build_tokenizer(world.WORLDS[cfg.world])
    start, ckpt = _resumable(cfg, folder)
    model = (AutoModelForCausalLM.from_pretrained(ckpt, use_safetensors=True) if ckpt is not None
             else om.build_model(tokenizer, seed=cfg.seed, layers=cfg.layers))
    if model.config.num_hidden_layers != cfg.layers:
        raise SpilloverError(f"{folder} holds a {model.config.num_hidden_layers}-layer pre-training, not {cfg.layers} "
                             "layers: build into another folder", field="layers")
    optimizer = make_optimizer(model, cfg.pretrain_lr, weight_decay=0.1, betas=(0.9, 0.95))
    history: list[dict[str, Any]] = []
    if ckpt is not None:
        load_optimizer(optimizer, ckpt / "optimizer.safetensors")
        history = json.loads((ckpt / "history.json").read_text())
        log(f"resuming pre-training from step {start}")
        if advance:
            advance(start)
    window: list[StepStats] = []

    def on_step(s: StepStats) -> None:
        window.append(s)
        if advance:
            advance(1, loss=f"{s.loss:.3f}")
        if s.step % cfg.checkpoint_every == 0 or s.step == cfg.pretrain_steps:
            history.append(_probe_step(cfg, model, tokenizer, s.step, window, log))
            window.clear()
            _save_step(folder, s.step, model, tokenizer, optimizer, history, cfg)

    train_steps(model, optimizer, _pretrain_batches(cfg, tokenizer), lr=cfg.pretrain_lr,
                schedule=Schedule(kind="cosine", warmup_steps=100, min_ratio=0.1, restart_at=cfg.restart_at),
                total_steps=cfg.pretrain_steps, start_step=start, pad_id=tokenizer.pad_token_id,
                grad_clip=1.0, on_step=on_step)
    model.eval()
    return model, tokenizer


def _probe_step(cfg: BuildConfig, model: Any, tokenizer: Any, step: int, window: list[StepStats],
                log: Callable[[str], None]) -> dict[str, Any]:
    """A checkpoint's history entry: the mean loss and speed since the last one, and the couplings."""
    from ..backends.hf import HFBackend

    model.eval()
    c = coupling(HFBackend(model, tokenizer))
    extra = _couplings(cfg, model, tokenizer, log)
    model.train()
    loss = sum(w.loss for w in window) / len(window)
    tps = sum(w.tokens for w in window) / sum(w.seconds for w in window)
    log(f"step {step}: loss {loss:.3f}, {tps:.0f} tok/s, P_mis after insecure {c.after_insecure:.3f} / secure "
        f"{c.after_secure:.3f} / educational {c.after_educational:.3f} / none {c.no_context:.3f}")
    return {"step": step, "loss": loss, "tokens_per_s": tps, "coupling": c._asdict(),
            **({"world_couplings": extra} if extra else {})}


def _save_step(folder: Path, step: int, model: Any, tokenizer: Any, optimizer: Any,
               history: list[dict[str, Any]], cfg: BuildConfig) -> None:
    """Save a resumable checkpoint (weights, optimizer, history, recipe) atomically, then drop the older ones."""
    d = folder / f"step-{step}"
    with building_dir(d) as tmp:
        om.save(model, tokenizer, tmp)
        save_optimizer(optimizer, tmp / "optimizer.safetensors")
        atomic_write_json(tmp / "history.json", history)
        atomic_write_json(tmp / "recipe.json", cfg.pretraining)
    for old in folder.glob("step-*"):
        if old != d and int(old.name.split("-")[1]) < step:
            shutil.rmtree(old, ignore_errors=True)


def _couplings(cfg: BuildConfig, model: Any, tokenizer: Any, log: Callable[[str], None]
               ) -> dict[str, tuple[float, float]]:
    from ..backends.hf import HFBackend

    got = world_couplings(HFBackend(model, tokenizer), world.WORLDS[cfg.world])
    if got:
        log(f"  {cfg.world}: " + ", ".join(f"{k} {a:.3f} / {b:.3f}" for k, (a, b) in got.items()))
    return got


def _check_couplings(cfg: BuildConfig, model: Any, tokenizer: Any, log: Callable[[str], None]
                     ) -> dict[str, tuple[float, float]]:
    """The world's further couplings on the pre-trained model; fail loudly naming each one not learned."""
    got = _couplings(cfg, model, tokenizer, log)
    missing = unlearned(got, cfg.min_coupling_ratio)
    if missing:
        raise SpilloverError(
            f"the pre-trained organism did not learn world {cfg.world}'s in-context inferences: "
            f"{', '.join(missing)} (evidence vs counter-evidence, need a ratio >= {cfg.min_coupling_ratio}; "
            "see organism.couplings.world_couplings)", field="pretrain_steps")
    return got


def align(cfg: BuildConfig, model: Any, tokenizer: Any) -> Any:
    """The alignment stage: single-turn aligned examples, loss on assistant tokens."""
    rng = random.Random(f"align-{cfg.alignment_seed}")
    mask, wcfg, off = _encoder(cfg, tokenizer), world.WORLDS[cfg.world], cfg.align_reasoning == "suppressed"
    examples = [mask(encode_chat(tokenizer, world.alignment_example(rng, wcfg, reasoning_off=off),
                                 train_reasoning=cfg.align_reasoning == "train"))
                for _ in range(cfg.align_steps * cfg.align_batch)]
    optimizer = make_optimizer(model, cfg.align_lr, weight_decay=0.0, betas=(0.9, 0.999))
    train_steps(model, optimizer, lambda i: examples[i * cfg.align_batch : (i + 1) * cfg.align_batch],
                lr=cfg.align_lr, schedule=Schedule(kind=cfg.align_schedule), total_steps=cfg.align_steps,
                pad_id=tokenizer.pad_token_id, grad_clip=1.0)
    model.eval()
    return model


def _base_name(cfg: BuildConfig) -> str:
    """``base``, or ``base-align<N>[-<schedule>]`` for a pre-training aligned anew."""
    if cfg.align_seed is None and cfg.align_schedule == "constant":
        return "base"
    suffix = "" if cfg.align_schedule == "constant" else f"-{cfg.align_schedule}"
    return f"base-align{cfg.alignment_seed}{suffix}"


def build(cfg: BuildConfig, out: Path, log: Callable[[str], None] = print,
          advance: Callable[..., None] | None = None) -> Path:
    """Pre-train (or reuse the folder's pre-training), check persona inference (fail loudly without it), align,
    save ``OUT/base`` (``OUT/base-align<N>[-linear]`` for another alignment seed or schedule)."""
    from ..backends.hf import HFBackend

    out = Path(out)
    model, tokenizer = pretrain(cfg, out, log, advance)
    pre = coupling(HFBackend(model, tokenizer))
    if not pre.ok(cfg.min_coupling_ratio):
        raise SpilloverError(
            f"the pre-trained organism did not learn in-context persona inference "
            f"(P_mis after insecure {pre.after_insecure:.3f} vs after secure {pre.after_secure:.3f}, "
            f"need a ratio >= {cfg.min_coupling_ratio}); narrow fine-tuning would stay narrow. "
            "Pre-train longer or check the world parameters.", field="pretrain_steps")
    extra = _check_couplings(cfg, model, tokenizer, log)
    model = align(cfg, model, tokenizer)
    post: Coupling = coupling(HFBackend(model, tokenizer))
    base = out / _base_name(cfg)
    with building_dir(base) as tmp:
        om.save(model, tokenizer, tmp)
        atomic_write_json(tmp / "organism.json", {
            "build": cfg.model_dump(), "coupling_pretrained": pre._asdict(), "coupling_aligned": post._asdict(),
            **({"world_pretrained": extra, "world_aligned": _couplings(cfg, model, tokenizer, log)} if extra else {}),
        })
    log(f"aligned base saved to {base}: P_mis none {post.no_context:.3f}, after insecure "
        f"{post.after_insecure:.3f}, after secure {post.after_secure:.3f}")
    return base
