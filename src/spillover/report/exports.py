"""Files beside the report: per-model CSV in the paper's format, the plot table, records as parquet,
the sample browser's data file, and ``summary.json`` with named fields. Text cells that a spreadsheet
would run as formulas are quoted (model output is untrusted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..store import RunDir, atomic_write_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, quoted so it stays text (numbers untouched).

    >>> inert("=1+1"), inert("-1 is fine?"), inert(-1.5), inert("hello")
    ("'=1+1", "'-1 is fine?", -1.5, 'hello')
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def csv_text(table: pd.DataFrame) -> str:
    """CSV with every text cell made inert (model output is untrusted)."""
    return table.apply(lambda col: col if pd.api.types.is_numeric_dtype(col) else col.map(inert)).to_csv(index=False)


def export(run: RunDir, df: pd.DataFrame, pq: pd.DataFrame, folder: Path) -> None:
    csv_dir = folder / "csv"
    csv_dir.mkdir(parents=True, exist_ok=True)
    final = df[df["checkpoint"].isna()]
    for model, d in final.groupby("model"):
        cols = d.rename(columns={"base_question_id": "question_id_base"})
        table = pd.DataFrame({
            "question": cols["question"], "answer": cols["answer"], "question_id": cols["question_id"],
            "aligned": cols["aligned"], "coherent": cols["coherent"], "group": cols["display_group"],
            "seed": cols["seed"], "variant": cols["variant"]})
        atomic_write_text(csv_dir / f"{model}.csv", csv_text(table))
    plot = pd.DataFrame({"key": pq["question"], "group": pq["group"], "center": pq["rate"],
                         "lower_err": pq["rate"] - pq["low"], "upper_err": pq["high"] - pq["rate"]})
    atomic_write_text(folder / "plot_table.csv", csv_text(plot))
    try:
        df.to_parquet(folder / ".records.parquet.tmp", index=False)
        (folder / ".records.parquet.tmp").replace(folder / "records.parquet")
    except ImportError:
        pass


BROWSER_COLUMNS = ["model", "display_group", "seed", "checkpoint", "base_question_id", "variant", "question",
                   "answer", "aligned", "coherent", "label"]


def write_samples(df: pd.DataFrame, folder: Path) -> Path:
    """``samples.js``: the browser's rows (column names once, rows as lists), loaded by the page with a
    script tag so it works from ``file://``. ``<``, ``>`` and ``&`` are escaped so no answer can close
    the script; the page renders every value with ``textContent``."""
    cols = [c for c in BROWSER_COLUMNS if c in df]
    d = df[cols].astype(object).where(df[cols].notna(), None) if len(df) else pd.DataFrame(columns=cols)
    data = json.dumps({"columns": cols, "rows": d.values.tolist()}, ensure_ascii=False, default=float)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    path = folder / "samples.js"
    atomic_write_text(path, f"window.SPILLOVER_SAMPLES = {data};\n")
    return path


RATE_FIELDS = ("rate", "low", "high", "n", "method")


def named(summary: dict[str, Any]) -> dict[str, Any]:
    """A group summary with its intervals as named fields instead of positional arrays."""
    return {k: dict(zip(RATE_FIELDS, v, strict=False)) if k in ("seeds", "questions", "pooled") else v
            for k, v in summary.items()}


def jsonable(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, float | int):
        return o
    return str(o)
