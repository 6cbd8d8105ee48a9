"""Synth, scheduler, engine and offline render (see each module)."""

MAX_RATE = 96000      # FluidSynth's highest sample rate (above it, it silently keeps its default rate)
