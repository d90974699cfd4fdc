"""Results in the formats others use: Inspect AI ``.eval`` logs (:mod:`.inspect_logs`), a Hugging Face
dataset (:mod:`.hf_dataset`). Each exporter imports its library inside and names the extra that
installs it."""
