"""Who may import whom: semcom's layers, bottom to top (data only; ``tests/test_layers.py`` checks every import).

A module may import its own package and anything in the same or a lower layer, never a higher one; the packages
under ``semcom.schemes`` never import one another (a piece two schemes share moves down into core). Every
package and top-level module of semcom must be listed here.
"""

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("__init__", "errors", "units", "types", "seeding", "outputs", "training", "layers")),
    ("core", ("channels", "digital", "jscc", "metrics", "data", "coding", "splitting", "segmentation", "vit",
              "adapters")),
    ("schemes", ("schemes",)),
    ("experiments", ("experiments", "serve")),
    ("cli", ("cli",)),
)

LAZY_UPWARD: tuple[tuple[str, str], ...] = (
    # The package root re-exports the Python API (semcom.experiments.api: it builds any registered scheme) lazily:
    # semcom/__init__.py imports it only inside its module-level __getattr__ (PEP 562), on first use of a name like
    # semcom.AWGN, so a bare ``import semcom`` loads nothing above base (tests/test_api.py checks this in a fresh
    # interpreter).
    ("__init__", "experiments"),
)
"""(importer, imported) units allowed to import upward, each lazily and for the reason given above."""
