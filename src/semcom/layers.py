"""Who may import whom: semcom's layers, bottom to top (data only; ``tests/test_layers.py`` checks every import).

A module may import its own package and anything in the same or a lower layer, never a higher one; the packages
under ``semcom.schemes`` never import one another (a piece two schemes share moves down into core). Every
package and top-level module of semcom must be listed here.
"""

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("__init__", "errors", "units", "types", "seeding", "outputs", "training", "layers")),
    ("core", ("channels", "digital", "jscc", "metrics", "data", "coding", "splitting", "segmentation", "vit")),
    ("schemes", ("schemes",)),
    ("experiments", ("experiments",)),
    ("cli", ("cli",)),
)
