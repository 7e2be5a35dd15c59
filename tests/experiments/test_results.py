"""Result files name paths relative to the repository, never this machine's folders."""

from semcom.experiments.results import portable_path


def test_portable_path_is_relative_inside_the_root_and_unchanged_outside(tmp_path):
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    assert portable_path(root / "src" / "model.pt", root) == "src/model.pt"
    assert portable_path(str(root / "src" / ".." / "src" / "model.pt"), root) == "src/model.pt"
    outside = tmp_path / "elsewhere" / "model.pt"
    assert portable_path(outside, root) == str(outside)
    assert portable_path("hub-org/model-id", root) == "hub-org/model-id"
