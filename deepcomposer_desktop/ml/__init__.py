"""Generative models. torch is imported only inside this package's model/train/generate modules, lazily."""
