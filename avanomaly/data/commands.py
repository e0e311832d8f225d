"""``avanomaly index``: build manifest CSVs (FakeAVCeleb trees, plain folders of videos)."""

from __future__ import annotations

import click

from avanomaly.data.splits import DEFAULT_FRACTIONS, DEFAULT_SEED, parse_fractions

_FRACTIONS_HELP = ("train,val,test fractions of the identities (sum 1); default "
                   + ",".join(str(f) for f in DEFAULT_FRACTIONS) + " = 314/35/151 of 500 identities")


@click.group(name="index")
def index():
    """Index a dataset into a manifest CSV (path,label,category,method,identity,split,...)."""


@index.command(name="fakeavceleb")
@click.argument("root", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="manifest CSV to write")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="seed of the identity-disjoint split")
@click.option("--split-fractions", default=",".join(str(f) for f in DEFAULT_FRACTIONS), help=_FRACTIONS_HELP)
@click.option("--no-csv", is_flag=True, help="ignore meta_data.csv; infer methods from file names")
@click.option("--strict", is_flag=True, help="fail when meta_data.csv and the files on disk disagree")
def fakeavceleb(root, out, seed, split_fractions, no_csv, strict):
    """Index a FakeAVCeleb v1.2 tree (ROOT = FakeAVCeleb_v1.2 or its parent) with an identity-disjoint split."""
    from avanomaly.data.fakeavceleb import scan_fakeavceleb
    from avanomaly.data.manifest import summarize, write_manifest
    from avanomaly.data.splits import identity_split
    from avanomaly.errors import DatasetError

    fractions = parse_fractions(split_fractions)
    idx = scan_fakeavceleb(root, use_csv=not no_csv, warn=False)
    messages = idx.all_warnings()
    for msg in messages:
        click.echo(f"warning: {msg}", err=True)
    if strict and (idx.missing_files or idx.unlisted_files):
        raise DatasetError(f"{idx.root}: meta_data.csv and disk disagree ({len(idx.missing_files)} missing, "
                           f"{len(idx.unlisted_files)} unlisted); rerun without --strict to index anyway")
    if idx.records.empty:
        raise DatasetError(f"{idx.root}: no clips found")
    df = identity_split(idx.records, fractions=fractions, seed=seed)
    write_manifest(df, out)
    source = "meta_data.csv" if idx.used_csv else "file names"
    click.echo(f"indexed {idx.root} (methods from {source}); split seed {seed}, fractions {fractions}")
    click.echo(summarize(df))
    click.echo(f"wrote {out}")


@index.command(name="folder")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="manifest CSV to write")
@click.option("--label", type=click.Choice(["real", "fake"]), default="real", show_default=True)
@click.option("--category", default=None, help="FakeAVCeleb category name (default RealVideo-RealAudio for real)")
@click.option("--method", default=None, help="method name (default 'real' for real, 'unknown' for fake)")
@click.option("--identity", type=click.Choice(["auto", "parent", "file"]), default="auto", show_default=True,
              help="identity of a clip: its folder (parent), its file stem (file), or parent if in a sub-folder (auto)")
@click.option("--seed", default=DEFAULT_SEED, show_default=True)
@click.option("--split-fractions", default=",".join(str(f) for f in DEFAULT_FRACTIONS), help=_FRACTIONS_HELP)
def folder(root, out, label, category, method, identity, seed, split_fractions):
    """Index every video under ROOT (recursive) with one label, split by identity."""
    from avanomaly.data.manifest import index_folder, summarize, write_manifest
    from avanomaly.data.splits import identity_split

    fractions = parse_fractions(split_fractions)
    df = identity_split(index_folder(root, label=label, category=category, method=method, identity=identity),
                        fractions=fractions, seed=seed)
    write_manifest(df, out)
    click.echo(f"indexed {root}; split seed {seed}, fractions {fractions}")
    click.echo(summarize(df))
    click.echo(f"wrote {out}")
