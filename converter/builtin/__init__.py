"""Built-in plugins: registered by :mod:`converter.plugins` exactly like third-party ones."""
