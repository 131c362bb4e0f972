"""Generative models' shipped samplers: score a sampler, record it in the manifest, verify it on a fresh clone."""

from __future__ import annotations

from .shipped import record_shipped_sampler, score_sampler, verify_shipped_sampler

__all__ = ["record_shipped_sampler", "score_sampler", "verify_shipped_sampler"]
