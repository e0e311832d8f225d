"""The ``avanomaly`` command: a thin click group.

Each command lives beside the code it drives (``avanomaly/<package>/commands.py``) and is imported only
when used, so ``avanomaly --help`` answers without importing torch.
"""

from __future__ import annotations

import importlib
import sys

import click

from avanomaly._version import __version__
from avanomaly.errors import AvanomalyError
from avanomaly.errors import MAX_MESSAGE_CHARS, shorten

# command name -> (module, attribute, one-line help shown in `avanomaly --help`)
COMMANDS = {
    "preprocess": ("avanomaly.preprocess.commands", "preprocess", "Decode videos into cached mouth crops + log-mel."),
    "index": ("avanomaly.data.commands", "index", "Index a dataset (FakeAVCeleb, folders) into a manifest CSV."),
    "synth": ("avanomaly.data.synth.commands", "synth", "Generate the built-in synthetic FakeAVCeleb-shaped benchmark."),
    "shards": ("avanomaly.data.shard_commands", "shards", "Pack a feature cache into shards (and back) for large corpora."),
    "train": ("avanomaly.training.commands", "train", "Train on real clips only (stage 1 sync, stage 2 AR)."),
    "calibrate": ("avanomaly.scoring.commands", "calibrate", "Re-calibrate a model's threshold on real clips."),
    "score": ("avanomaly.scoring.commands", "score", "Score video files: anomaly score, verdict, AV offset."),
    "evaluate": ("avanomaly.evaluation.commands", "evaluate", "Evaluate a model per category; write a report."),
    "serve": ("avanomaly.serve.commands", "serve", "Run the HTTP service and upload page."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            short, reason = COMMANDS[name][2], str(exc)  # `exc` itself is unbound once the except block ends

            @click.command(name=name, help=f"{short} (unavailable: {reason})")
            def _unavailable():
                raise click.ClickException(f"command '{name}' is unavailable: {reason}")

            return _unavailable

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="avanomaly")
def cli():
    """avanomaly: detect audio-visual deepfakes with a model of real talking people only."""


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="avanomaly", standalone_mode=True)
    except AvanomalyError as exc:  # a clear one-line error, never a deep traceback (nor a 10 MB one)
        click.echo(f"error: {shorten(exc, MAX_MESSAGE_CHARS)}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
