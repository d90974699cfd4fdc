"""The run directory: where each stage keeps its records and artifacts (layout in :mod:`spillover.store`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import check_name
from ..records import Judgment, ProbeRecord, ProjectionRecord, SampleRecord, WeightChangeRecord
from .stage import Stage


class RunDir:
    """A run directory and its layout: every path of a run is spelled here and nowhere else.

    ``datasets/NAME.jsonl`` (+ ``NAME.card.json``, written last), ``finetune/NAME/`` (+ ``DONE`` and
    ``result.json``), one folder of keyed records per stage, ``report/``, ``manifest.json``."""

    def __init__(self, root: str | Path, worker: str = "main") -> None:
        self.root = Path(root)
        self.worker = worker
        self._finished: dict[str, dict[str, Any]] = {}  # a DONE fine-tune's result never changes

    def stage(self, name: str) -> Stage:
        return Stage(self.root, name, self.worker)

    def artifact(self, stage: str, name: str) -> Path:
        """The folder of a named artifact (e.g. one fine-tuned model)."""
        return self.root / check_name(stage, what="stage") / check_name(name)

    @staticmethod
    def artifact_done(path: Path) -> bool:
        return (Path(path) / "DONE").exists()

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    # records ---------------------------------------------------------------------------
    def samples(self) -> list[SampleRecord]:
        return list(self.stage("samples").load(SampleRecord).values())

    def judgments(self) -> list[Judgment]:
        return list(self.stage("judgments").load(Judgment).values())

    def probes(self) -> list[ProbeRecord]:
        return list(self.stage("probes").load(ProbeRecord).values())

    def projections(self) -> list[ProjectionRecord]:
        return list(self.stage("projections").load(ProjectionRecord).values())

    def weight_changes(self) -> list[WeightChangeRecord]:
        return list(self.stage("weights").load(WeightChangeRecord).values())

    # directions ----------------------------------------------------------------------------
    def direction(self, name: str) -> Path:
        """A finished direction's file (written atomically, once all its parts are in)."""
        return self.root / "inside" / "directions" / f"{check_name(name)}.safetensors"

    def activations_dir(self, model: str) -> Path:
        """A model's answer activations, one file per sampling chunk (``vectors.save_activations``)."""
        return self.root / "inside" / "activations" / check_name(model)

    def activations(self, model: str, key: str) -> Path:
        return self.activations_dir(model) / f"{check_name(key)}.safetensors"

    def direction_part(self, key: str) -> Path:
        """One model's activations for one direction."""
        return self.root / "inside" / "parts" / f"{check_name(key)}.safetensors"

    # datasets ----------------------------------------------------------------------------
    def dataset(self, name: str) -> Path:
        return self.root / "datasets" / f"{check_name(name)}.jsonl"

    def dataset_card(self, name: str) -> Path:
        """Written after the dataset: its existence marks the dataset done."""
        return self.root / "datasets" / f"{check_name(name)}.card.json"

    def dataset_cards(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.root / "datasets").glob("*.card.json"))]

    # fine-tunes --------------------------------------------------------------------------
    def finetune_dir(self, name: str) -> Path:
        return self.artifact("finetune", name)

    def finetune_result(self, name: str) -> dict[str, Any] | None:
        """A finished fine-tune's ``result.json`` (None until its DONE marker exists)."""
        if name not in self._finished:
            folder = self.finetune_dir(name)
            if not self.artifact_done(folder):
                return None
            self._finished[name] = json.loads((folder / "result.json").read_text())
        return dict(self._finished[name])

    def finetune_ended_without_model(self, name: str) -> bool:
        """An API fine-tune that reached a terminal failure (refused, failed): never retried."""
        res = self.finetune_dir(name) / "result.json"
        return not self.artifact_done(res.parent) and res.exists() and "status" in json.loads(res.read_text())

    def finetune_results(self) -> dict[str, dict[str, Any]]:
        """Every finished fine-tune's result, by model name."""
        folder = self.root / "finetune"
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if folder.exists() else []
        return {n: r for n in names if (r := self.finetune_result(n)) is not None}
