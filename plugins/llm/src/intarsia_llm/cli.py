"""``intarsia llm …`` subcommands: generate text with a backend, inspect or clear the cache."""

from __future__ import annotations

import json

import click


def _parse_options(items: tuple[str, ...]) -> dict:
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="-o")
        out[key] = yaml.safe_load(value)  # numbers and booleans as YAML reads them
    return out


def add_commands(cli: click.Group) -> None:
    @cli.group("llm")
    def llm_group():
        """Language-model backends (intarsia-llm)."""

    @llm_group.command("generate")
    @click.argument("prompts", nargs=-1, required=True)
    @click.option("--backend", "-b", default="gguf", show_default=True, help="Registered llms name.")
    @click.option("--option", "-o", "options", multiple=True, help="Backend config KEY=VALUE (repeatable).")
    @click.option("--system", default=None, help="Send each prompt as a chat with this system message.")
    @click.option("--max-tokens", default=64, show_default=True)
    @click.option("--temperature", default=0.0, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON object with outputs and stats.")
    def generate_cmd(prompts, backend, options, system, max_tokens, temperature, as_json):
        """Generate a completion for each PROMPT."""
        from intarsia.build import build

        llm = build("llms", backend, _parse_options(options))
        if system is not None:
            batch = [[{"role": "system", "content": system}, {"role": "user", "content": p}] for p in prompts]
        else:
            batch = list(prompts)
        outputs = llm.generate(batch, max_tokens=max_tokens, temperature=temperature)
        if as_json:
            click.echo(json.dumps({"outputs": outputs, "stats": llm.last_stats.as_dict()}, indent=2))
        else:
            for out in outputs:
                click.echo(out)
            click.echo(f"[{llm.last_stats}]", err=True)

    @llm_group.command("cache")
    @click.option("--dir", "cache_dir", default="", help="Cache folder (default: the backends' default).")
    @click.option("--clear", is_flag=True, help="Delete every cached answer.")
    def cache_cmd(cache_dir, clear):
        """Show what the persistent answer cache holds (or clear it)."""
        from .cache import ResponseCache

        cache = ResponseCache(cache_dir or None)
        if clear:
            click.echo(f"removed {cache.clear()} entries from {cache.path}")
            return
        click.echo(f"{cache.path}: {len(cache)} entries")
        for backend, model, op, count in cache.summary():
            click.echo(f"  {backend:12s} {model:40s} {op:16s} {count}")
