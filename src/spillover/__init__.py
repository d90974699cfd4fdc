"""spillover: an emergent-misalignment research toolkit.

The pipeline is ``dataset -> finetune -> sample -> judge -> analyze -> report``, driven by one
experiment YAML file and resumable at every step. Heavy libraries (torch, transformers, vllm) are
imported only inside the functions that need them, so ``import spillover`` stays fast.
"""

__version__ = "0.1.0"
