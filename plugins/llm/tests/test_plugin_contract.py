"""The plugin as a whole passes PluginContract: every registration imports, every config field is
documented, plugin.py stays cheap to import."""

import intarsia_llm.plugin as plugin
from intarsia.testing import PluginContract


class TestLLMPlugin(PluginContract):
    plugin = plugin
