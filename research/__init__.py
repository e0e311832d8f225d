"""Research probes of avanomaly: not part of the product (see research/README.md). Run from the repository root as
``python -m research.<probe>``."""
