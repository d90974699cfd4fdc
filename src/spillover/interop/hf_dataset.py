"""A run's answers and scores as a Hugging Face ``datasets`` dataset (``save_to_disk``), one row per answer.

Columns: the sample record's fields, the headline judge's ``aligned``/``coherent`` scores and label,
``display_group`` and ``misaligned`` under the headline rule (NaN where the rule does not count the
answer). Load it with ``datasets.load_from_disk``; push it with ``push_to_hub`` yourself (nothing here
touches the network).
"""

from __future__ import annotations

from pathlib import Path

from ..config import Experiment
from ..errors import MissingExtraError
from ..store import RunDir
from .inspect_logs import counted


def export_dataset(run: RunDir, exp: Experiment, out: Path) -> int:
    """Write the dataset to ``out``; returns its number of rows."""
    try:
        import datasets
    except ImportError:
        raise MissingExtraError("trl", "exporting a Hugging Face dataset (the datasets library)") from None
    df = counted(run, exp).reset_index(drop=True)
    for col in ("seed", "checkpoint"):
        df[col] = df[col].astype("Int64")
    ds = datasets.Dataset.from_pandas(df, preserve_index=False)
    ds.save_to_disk(str(out))
    return len(ds)
