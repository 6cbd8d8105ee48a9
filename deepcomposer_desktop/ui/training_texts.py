"""The Training studio's words and numbers: loss names, the orchestra-and-conductor explanation, epochs, ETA and
sample labels. Plain functions of the training events (no widgets), so every place on screen says the same thing.
"""
from __future__ import annotations

import html
import math
import re

# the plots' legend in the title's words (conductor / orchestra); the technical term is in the tooltip
LOSSES = ("conductor: real − orchestra", "orchestra: how fake it sounds", "orchestra: notes unlike the real parts")
LOSS_TIPS = {LOSSES[0]: "The critic's Wasserstein estimate: its mean score of the real accompaniments minus that of "
                        "the generated ones. Near 0 it cannot tell them apart.",
             LOSSES[1]: "The generator's adversarial loss: minus the critic's score of the generated "
                        "accompaniments. Lower: they sound more real to it.",
             LOSSES[2]: "The reconstruction loss: binary cross-entropy between the generated notes and the real "
                        "accompaniment's. It falls as the orchestra learns the notes real bands play."}
_LOG_ETA = re.compile(r"ETA (\d+)m(\d+)s")


def per_epoch(spec, data=None, loss=None) -> int | None:
    """Iterations per epoch as the trainer counts them (its training pieces / batch size); None when unknown."""
    if spec is not None and data is not None and spec.batch_size > 0 and data.windows > 0:
        return max(1, math.ceil(data.windows / spec.batch_size))
    if spec is not None and loss is not None and spec.epochs > 0 and loss.total % spec.epochs == 0:
        return max(1, loss.total // spec.epochs)
    return None


def epoch_of(iteration: int, steps: int | None, approx: float = 0.0) -> int:
    """The epoch an iteration belongs to, counted from 1 as on the progress bar ("epoch 3, iteration 48");
    without ``steps`` per epoch, from the trainer's rounded fraction ``approx``."""
    if steps:
        return (max(1, int(iteration)) - 1) // steps + 1
    return max(1, math.ceil(round(float(approx), 6)))


def score(value: float) -> str:
    """Three decimals, never "-0.000"."""
    return f"{round(float(value), 3) + 0.0:.3f}"


def log_eta(line: str) -> float | None:
    """The seconds left in a trainer log line ("… ETA 0m56s"), or None."""
    m = _LOG_ETA.search(line)
    return int(m.group(1)) * 60 + int(m.group(2)) if m else None


def eta_text(seconds: float | None, done: bool = False) -> str:
    if done:
        return "All iterations done: measuring and saving the model (this can take a few minutes)…"
    if seconds is None:
        return ""
    m, s = divmod(max(0, int(seconds)), 60)
    return f"About {m} min {s:02d} s left" if m else f"About {s} s left"


def sample_label(iteration: int, epoch: int, final: bool) -> str:
    return f"♪ Iteration {iteration} (epoch {epoch}" + (", final)" if final else ")")


def explanation(ratio: int, spec=None, data=None, loss=None, running: bool = True) -> str:
    """The "orchestra and conductor" text: ``ratio`` is the update ratio to speak of (the field's, or the run's)."""
    text = ("<b>The orchestra and the conductor.</b> The <i>generator</i> is an orchestra: it reads a melody and "
            "plays drums, bass and harmony for it. The <i>critic</i> is a conductor who listens to real "
            "accompaniments from your songs and to the orchestra's attempts, and scores how real each sounds. "
            + (f"For every rehearsal of the orchestra the conductor practises <b>{ratio}</b> "
               f"time{'s' if ratio != 1 else ''} (the update ratio); the orchestra then changes its playing to "
               "score better." if ratio else
               "In this run there is no conductor (update ratio 0): the orchestra learns only by comparing its "
               "playing with the real accompaniments, which is much quicker on a CPU."))
    if data is not None and spec is not None:
        text += (f"<br>{'This' if running else 'The last'} run: <b>{data.windows}</b> 8-bar pieces from "
                 f"<b>{data.songs - data.held_songs}</b> songs, {spec.batch_size} pieces per step, learning rate "
                 f"{spec.lr:g}.")
    if loss is not None:
        steps = per_epoch(spec, data, loss)
        epochs = f" of {math.ceil(loss.total / steps)}" if steps else ""
        text += (f"<br>{'Now at' if running else 'Reached'} iteration <b>{loss.iteration}</b> of {loss.total} "
                 f"(epoch {epoch_of(loss.iteration, steps, loss.epoch)}{epochs}): ")
        if spec is None or spec.update_ratio:
            how = ("the conductor can hardly tell them apart" if abs(loss.wdist) < 0.5 else
                   "the conductor still hears a clear difference")
            text += f"<i>{html.escape(LOSSES[0])}</i> is <b>{score(loss.wdist)}</b> ({how}); "
        text += (f"<i>{html.escape(LOSSES[2])}</i> is <b>{score(loss.rec)}</b> and falls as the orchestra learns "
                 f"the notes real bands play; {loss.rate:.1f} iterations per second.")
    return text
