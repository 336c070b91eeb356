"""Registration through the core's hooks, zero-option configs, and the CLI."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import intarsia_llm.plugin as plugin
import pytest
from intarsia.config import merge_into
from intarsia_llm.config import GGUFConfig, OpenAIConfig, TransformersConfig


def test_backends_are_registered_with_lazy_factories(intarsia_host):
    host = intarsia_host(plugin)
    llms = host.registry.components["llms"]
    assert {"gguf", "transformers", "openai"} <= set(llms)
    assert llms["gguf"].load_config_class() is GGUFConfig
    assert callable(llms["openai"].load_factory())


@pytest.mark.parametrize("cls", [GGUFConfig, TransformersConfig, OpenAIConfig])
def test_every_config_field_has_a_default_and_resolves_from_nothing(cls):
    cfg = merge_into(cls, {}, "llm")
    assert isinstance(cfg, cls)
    for f in dataclasses.fields(cls):
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, f.name


def test_config_typos_fail_with_the_close_match():
    from intarsia.errors import ConfigError

    with pytest.raises(ConfigError, match="n_ctx"):
        merge_into(GGUFConfig, {"n_ctxx": 512}, "llm")


def test_plugin_module_is_cheap_to_import():
    code = ("import sys, intarsia_llm.plugin; "
            "heavy = [m for m in ('torch', 'llama_cpp', 'transformers', 'httpx2', 'numpy') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_cli_generate_and_cache(tmp_path):
    import click
    from click.testing import CliRunner
    from intarsia_llm.cli import add_commands
    from llm_test_servers import FakeOpenAIServer, fake_completion

    @click.group()
    def cli():
        pass

    add_commands(cli)
    runner = CliRunner()
    with FakeOpenAIServer() as server:
        result = runner.invoke(cli, ["llm", "generate", "-b", "openai", "-o", f"base_url={server.base_url}",
                                     "-o", f"cache_dir={tmp_path}", "--json", "hello"])
    assert result.exit_code == 0, result.output
    assert fake_completion("hello") in result.output and "tokens_per_s" in result.output
    shown = runner.invoke(cli, ["llm", "cache", "--dir", str(tmp_path)])
    assert "1 entries" in shown.output and "openai" in shown.output
