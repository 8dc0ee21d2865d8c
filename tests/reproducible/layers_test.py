"""The example's layers are built byte for byte as the committed per-file lists say.

Pants builds the layers (runtime package dependencies) into this test's sandbox, next to their lists.
A difference names each file that moved: either a deliberate change (refresh the lists, see
layer_digests.py) or something of the building machine reaching an output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reproducible.layer_digests import committed_list, differences, parse, zip_file_digests

LAYERS = sorted(Path("layers").glob("*/*.zip"))


def test_every_example_layer_is_checked() -> None:
    assert {p.name for p in LAYERS} == {
        "geo-aws-py313-x86_64.zip",
        "geo-aws-py313-arm64.zip",
        "raster-aws-py313-x86_64.zip",
        "raster-aws-py313-arm64.zip",
    }


@pytest.mark.parametrize("layer_zip", LAYERS, ids=[p.name for p in LAYERS])
def test_layer_bytes_match_committed_list(layer_zip: Path) -> None:
    listed = committed_list(layer_zip, Path("layers"))
    diff = differences(parse(listed.read_text()), zip_file_digests(layer_zip))
    assert not diff, (
        f"{layer_zip} differs from {listed} in {len(diff)} files:\n"
        + "\n".join(diff[:60])
        + "\nIf the change is deliberate: ./pants package layers:: && python3 tests/reproducible/layer_digests.py --write"
    )
