"""The ``--engine`` / ``--address`` options shared by ``preprocess``, ``score`` and ``evaluate``."""

from __future__ import annotations

import click

from avanomaly.distributed.engine import ENGINES, EngineSpec


def engine_options(command):
    """Add ``--engine {local,dask}`` and ``--address`` to a click command (parameters ``engine``, ``address``)."""
    command = click.option(
        "--address", default=None, metavar="SCHEDULER",
        help="With --engine dask: an existing scheduler (tcp://host:8786); without it a local cluster of --workers "
             "processes is started for this run. Files and caches must be on paths every worker can read.")(command)
    return click.option(
        "--engine", type=click.Choice(ENGINES), default="local", show_default=True,
        help="Where the per-file work runs: this machine's process pool (local) or a Dask cluster (dask; needs "
             "avanomaly[cluster]). Same results, keys and resume either way; see docs/scale.md.")(command)


def engine_from_options(engine: str, address: str | None, workers: int | None = None) -> EngineSpec:
    """The EngineSpec of the command-line options (a UsageError for a bad combination or a missing package)."""
    from avanomaly.distributed.engine import engine_spec
    from avanomaly.errors import ConfigError, MissingDependencyError

    try:
        spec = engine_spec(engine, address, workers)
        if not spec.is_local:
            from avanomaly.distributed.engine import CLUSTER_EXTRA
            from avanomaly.utils import require_module

            require_module("distributed", CLUSTER_EXTRA, "--engine dask")
    except (ConfigError, MissingDependencyError) as exc:
        raise click.UsageError(str(exc)) from exc
    return spec
