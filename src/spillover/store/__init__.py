"""The run directory: the single source of truth of an experiment.

Layout (one folder per stage)::

    RUN/manifest.json            resolved config, versions, git revision (secrets redacted)
    RUN/<stage>/part-<worker>.jsonl   append-only records, one JSON object per line, each with a "key"
    RUN/<stage>/DONE             written when nothing planned is left, with a digest of the plan
    RUN/finetune/<name>/...      artifacts, each finished by its own DONE marker

Guarantees: every line is appended with ``flush + fsync`` before the work counts as done, so a
process killed at any point loses at most the line it was writing; a torn last line is ignored on
read and cut off before the next append. Whole files are written to a temporary name, fsynced and
renamed. Several workers write separate shards; readers merge them by key (the first record of a
key wins, so a duplicate from a crashed worker is harmless).

Not guaranteed: two processes writing the *same* worker shard at once (give each worker its own
``worker`` name).
"""

from .files import atomic_write_bytes, atomic_write_json, atomic_write_text, building_dir, fsync_dir, read_jsonl
from .run import RunDir
from .stage import Stage

__all__ = ["RunDir", "Stage", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "building_dir",
           "fsync_dir", "read_jsonl"]
