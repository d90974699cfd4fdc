"""Small experiment files shared by the command-line tests (the organism base, one answer per question)."""

TINY = """\
name: tiny
models:
  base: {path: organism}
eval:
  questions:
    - {set: organism, samples_per_paraphrase: 1, paraphrases: 1}
  params: {max_tokens: 12}
judges: [{kind: world}]
analysis: {rules: [betley]}
"""
