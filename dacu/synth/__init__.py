"""The deterministic synthetic shop (``dacu data generate``): docs/synthetic-shop.md."""
from dacu.synth.generate import DEFAULT_END, GenerateError, GenerateResult, generate, resolve_end

__all__ = ["DEFAULT_END", "GenerateError", "GenerateResult", "generate", "resolve_end"]
