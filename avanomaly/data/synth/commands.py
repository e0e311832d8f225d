"""``avanomaly synth``: write the built-in synthetic FakeAVCeleb-shaped benchmark."""

from __future__ import annotations

import time

import click

from avanomaly.data.synth.generator import SIZES


@click.command("synth")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder (FakeAVCeleb_v1.2/ is written inside).")
@click.option("--seed", default=0, show_default=True, type=int, help="Everything is drawn from this seed.")
@click.option("--size", default="demo", show_default=True, type=click.Choice(sorted(SIZES)), help="Benchmark size.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Parallel processes (output does not depend on it).")
@click.option("--leading-silence/--no-leading-silence", default=True, show_default=True,
              help="Give fake clips a short digital leading silence, as in FakeAVCeleb.")
@click.option("--overwrite", is_flag=True, help="Replace OUT/FakeAVCeleb_v1.2 if it holds another set.")
def synth(out, seed, size, workers, leading_silence, overwrite):
    """Generate the built-in synthetic benchmark (procedural talking faces + speech-like audio)."""
    from avanomaly.data.synth.generator import generate

    start = time.perf_counter()
    result = generate(out, seed=seed, size=size, workers=workers, leading_silence=leading_silence, progress=True, overwrite=overwrite)
    secs = time.perf_counter() - start
    counts = ", ".join(f"{k}: {v}" for k, v in result.counts.items())
    click.echo(f"wrote {result.n_clips} clips ({counts}) to {result.root} in {secs:.1f} s")
    click.echo(f"meta_data.csv, synth_methods.csv, synth_truth.npz in {result.root}; contact sheet {result.root.parent / 'contact_sheet.png'}")
