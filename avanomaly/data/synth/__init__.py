"""Built-in synthetic FakeAVCeleb-shaped benchmark (see docs/synthetic.md)."""

from avanomaly.data.synth.generator import SIZES, SynthResult, SynthSize, generate, generate_synthetic

__all__ = ["SIZES", "SynthResult", "SynthSize", "generate", "generate_synthetic"]
