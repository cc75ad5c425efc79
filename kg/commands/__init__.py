"""The ``kg`` commands, one module per family; ``cli.py`` assembles them into the app.

Every module exposes ``register(app)``, which adds its commands (and its sub-command
groups such as ``kg datasets``) to the app. A command parses its options, calls one
library function and prints with rich (renderings in ``kg/render.py``); the global
``--store``/``--config`` options and the consoles are in ``kg/commands/context.py``.
"""
