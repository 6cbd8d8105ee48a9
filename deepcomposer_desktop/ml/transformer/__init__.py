"""Transformer "extend": a small decoder-only transformer over a REMI-like event vocabulary continues a song."""
