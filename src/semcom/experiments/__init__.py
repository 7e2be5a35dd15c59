"""Experiments: build schemes by name (``registry``), evaluate and compare them (``evaluate``, ``results``), the
demo and its report (``demo``, ``report``), and the Python API that ``import semcom`` re-exports (``api``).

Above the schemes, below the CLI: it may import base, core and every scheme; nothing below imports it."""
