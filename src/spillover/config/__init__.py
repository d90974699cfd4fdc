"""The experiment file: one YAML that drives ``dataset -> finetune -> sample -> judge -> analyze -> report``.

Every block is a pydantic model with ``extra="forbid"``, so a typo is an error that names the file,
line and field. ``--set a.b=v`` overrides are applied before validation; the resolved config is
saved in the run's ``manifest.json``. One module per block (``models``, ``datasets``, ``finetune``,
``evaluation``, ``analysis``); ``experiment`` holds the whole file and its loading, ``refs`` its cross-reference checks.
"""

from .analysis import AnalysisSpec, Check, Finding
from .base import ADDITIVE, KEY_ENV, RESULTS_ONLY, SHIPPED_SETS, STAGES, GenParams, Strict, stages_through
from .datasets import DatasetSpec, Select
from .evaluation import DirectionSpec, EvalSpec, InsideSpec, QuestionSource
from .experiment import Experiment, load_experiment
from .finetune import PRESETS, EarlyStop, FinetuneSpec, LoraSpec, OpenAIJob
from .models import JudgeSpec, ModelSpec
from .refs import defence_problems, inside_problems, reference_problems

__all__ = ["ADDITIVE", "KEY_ENV", "PRESETS", "RESULTS_ONLY", "SHIPPED_SETS", "STAGES", "AnalysisSpec", "Check",
           "DatasetSpec", "DirectionSpec", "EarlyStop", "EvalSpec", "Experiment", "FinetuneSpec", "Finding",
           "GenParams", "InsideSpec", "JudgeSpec", "LoraSpec", "ModelSpec", "OpenAIJob", "QuestionSource", "Select",
           "Strict", "defence_problems", "inside_problems", "load_experiment", "reference_problems", "stages_through"]
