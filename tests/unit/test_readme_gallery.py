"""The README gallery says which preset produced each figure."""

import dataclasses
import types

import pytest

from simulations.experiments import convex_class
from simulations.report import preset_of, update_readme
from simulations.store import to_jsonable


def _result(config, figure):
    return types.SimpleNamespace(name=convex_class.NAME, title=convex_class.TITLE, topic=convex_class.TOPIC,
                                 paper_ref=convex_class.PAPER_REF, config=to_jsonable(dataclasses.asdict(config)),
                                 claims=(), figures=(figure,))


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_gallery_captions_name_the_preset(tmp_path, preset):
    fig = tmp_path / "run" / "convex_class.png"
    fig.parent.mkdir()
    fig.write_bytes(b"\x89PNG\r\n\x1a\n")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- claims table -->\nold\n<!-- /claims table -->\nafter\n")
    result = _result(getattr(convex_class.Config, preset)(), fig)
    assert preset_of(result) == preset
    update_readme(readme, [result], figures_dir=tmp_path / "docs" / "figures", seed=0, elapsed=1.0)
    text = readme.read_text()
    assert f"*({preset} preset)*" in text
    assert f"![{convex_class.NAME}, {preset} preset](docs/figures/convex-class--convex_class.png)" in text
    assert text.startswith("intro\n") and text.endswith("after\n")


def test_a_changed_config_is_not_called_a_preset(tmp_path):
    config = dataclasses.replace(convex_class.Config.quick(), replicates=7)
    assert preset_of(_result(config, tmp_path / "f.png")) == "custom"
    assert preset_of(types.SimpleNamespace(name="no-such-experiment", config={})) == "custom"
