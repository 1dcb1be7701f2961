"""Test helpers that ship with the library: the storage conformance suite and model doubles.

Third-party adapters can run the same conformance suite as the built-in ones (see
:mod:`mastra_memory.testing.conformance`).
"""

from __future__ import annotations

from mastra_memory.testing.embedders import HashingEmbedder
from mastra_memory.testing.models import ScriptedModel

__all__ = ["HashingEmbedder", "ScriptedModel"]
