"""Built-in synthetic FakeAVCeleb-shaped benchmark (see docs/synthetic.md)."""
