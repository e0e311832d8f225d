"""The package version, in a module of its own so that any layer can read it without importing the facade
(``avanomaly/__init__.py``, which reaches up to scoring). setup.cfg reads it from here."""

__version__ = "0.1.0"
