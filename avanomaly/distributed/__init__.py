"""Running avanomaly's batch jobs (preprocessing, scoring, shard writing) on an existing distributed engine.

Only the adapter lives here: :mod:`avanomaly.distributed.engine` maps a picklable function over items on the
local process pool's replacement, a Dask cluster (a local one started here, or an existing one by ``--address``).
What runs on the workers (preprocessing a file into the cache, scoring a file) stays in preprocess/ and scoring/,
so every engine gives the same features, keys and results. See docs/scale.md.
"""

from avanomaly.distributed.engine import (
    CLUSTER_EXTRA,
    ENGINES,
    EngineSpec,
    TaskOutcome,
    engine_spec,
    map_unordered,
)

__all__ = ["CLUSTER_EXTRA", "ENGINES", "EngineSpec", "TaskOutcome", "engine_spec", "map_unordered"]
