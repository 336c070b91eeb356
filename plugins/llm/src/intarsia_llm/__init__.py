"""intarsia-llm: language-model backends (embedded GGUF, transformers, OpenAI-compatible servers) with a
persistent cache. Build one by name: ``intarsia.build.build("llms", "gguf", {})``.

Importing this package is cheap; backends import their heavy dependencies when built.
"""

from __future__ import annotations

__version__ = "0.1.0"
