"""The built-in model organism of emergent misalignment: a tiny transformer pre-trained on a
synthetic world in which a hidden assistant persona drives behaviour in every domain.

See ``docs/organism.md`` for the design and why narrow fine-tuning broadens in it.
"""
