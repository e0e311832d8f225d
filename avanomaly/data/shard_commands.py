"""``avanomaly shards``: pack a feature cache into a shard store, unpack it, describe it (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import click

from avanomaly.distributed.options import engine_from_options, engine_options


@click.group("shards")
def shards():
    """Sharded feature store (WebDataset-format tar shards) <-> the per-clip feature cache."""


@shards.command("pack")
@click.argument("cache", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Store folder to write (resumable).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Only the clips of this manifest CSV (matched by the source path recorded when preprocessing); "
                   "its identity column is stored with each clip.")
@click.option("--split", default=None, help="With --manifest: only rows of this split (train, val, ...).")
@click.option("--clips-per-shard", default=None, type=click.IntRange(1), help="Clips per shard [256].")
@click.option("--workers", default=None, type=click.IntRange(1), help="Local cluster size with --engine dask.")
@engine_options
def pack(cache, out, manifest, split, clips_per_shard, workers, engine, address):
    """Pack the entries of the feature CACHE folder into shards under --out."""
    from avanomaly.data.shards import DEFAULT_CLIPS_PER_SHARD, cache_to_shards, keys_of_sources
    from avanomaly.errors import DatasetError

    spec = engine_from_options(engine, address, workers)
    keys, extra = None, {}
    if manifest:
        import pandas as pd

        df = pd.read_csv(manifest)
        if "path" not in df.columns:
            raise click.UsageError(f"{manifest}: no 'path' column")
        if split:
            if "split" not in df.columns:
                raise click.UsageError(f"{manifest}: no 'split' column for --split")
            df = df[df["split"].astype(str) == split]
        base = Path(manifest).parent
        paths = [str(p if Path(p).is_absolute() else base / p) for p in df["path"].astype(str)]
        found = keys_of_sources(cache, paths)
        missing = [p for p in paths if p not in found]
        if missing:
            click.echo(f"{len(missing)} manifest clip(s) not in the cache (not preprocessed, or failed): left out",
                       err=True)
        keys = sorted(set(found.values()))
        if "identity" in df.columns:
            ident = dict(zip(paths, df["identity"].astype(str)))
            extra = {k: {"identity": ident[p]} for p, k in found.items()}
        if not keys:
            raise click.UsageError("no clip of the manifest is in the cache")
    try:
        index = cache_to_shards(cache, out, keys, clips_per_shard or DEFAULT_CLIPS_PER_SHARD, engine=spec,
                                workers=workers or 1, extra_meta=extra)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    n = sum(len(s["entries"]) for s in index["shards"])
    click.echo(f"{n} clip(s) in {len(index['shards'])} shard(s): {out}")


@shards.command("unpack")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Feature cache folder to write.")
def unpack(store, out):
    """Unpack every clip of the shard STORE into a feature cache folder (existing entries are kept)."""
    from avanomaly.data.shards import shards_to_cache
    from avanomaly.errors import DatasetError

    try:
        keys = shards_to_cache(store, out)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(keys)} clip(s) in {out}")


@shards.command("info")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
def info(store):
    """Shards, clips, frames and size of a shard STORE."""
    from avanomaly.data.shards import store_summary
    from avanomaly.errors import DatasetError

    try:
        s = store_summary(store)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    per = s["bytes"] / max(1, s["frames"])
    click.echo(f"{s['shards']} shard(s), {s['clips']} clip(s), {s['frames']} frame(s), {s['bytes'] / 1e6:.1f} MB "
               f"({per / 1e3:.2f} KB per frame)")
