"""GAN accompaniment: a melody piano roll in, a band of accompaniment tracks out (WGAN-GP, U-Net generator).

``config`` (dataclasses), ``model`` (networks), ``data`` (training windows from a cache or MIDI folder),
``decode`` (probabilities -> notes), ``train``, ``generate`` (``accompany``), ``evaluate`` (metrics for the cards).
"""
