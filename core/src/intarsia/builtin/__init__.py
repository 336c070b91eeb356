"""The core's own reference components, registered through the same hooks as any plugin."""
