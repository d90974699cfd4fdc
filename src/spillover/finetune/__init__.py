"""Fine-tuning: full, LoRA and rank-1 SFT with checkpoints (``hf``), and the OpenAI fine-tuning API."""
