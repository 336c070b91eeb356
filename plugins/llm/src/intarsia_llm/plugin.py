"""Registrations of the LLM backends (cheap: nothing heavy is imported here)."""

from __future__ import annotations

from intarsia import hookimpl


@hookimpl
def register_llms(register):
    register("gguf", factory="intarsia_llm.gguf:GGUFLLM", config="intarsia_llm.config:GGUFConfig",
             summary="GGUF model via llama-cpp-python; default: embedded Gemma 3 270M (needs the gguf extra)")
    register("transformers", factory="intarsia_llm.hf:TransformersLLM",
             config="intarsia_llm.config:TransformersConfig",
             summary="Hugging Face causal LM from a local directory (needs the transformers extra)")
    register("openai", factory="intarsia_llm.openai_compat:OpenAILLM", config="intarsia_llm.config:OpenAIConfig",
             summary="Any OpenAI-compatible HTTP server (vLLM, llama.cpp server, Ollama)")


@hookimpl
def register_commands(cli):
    from .cli import add_commands

    add_commands(cli)
