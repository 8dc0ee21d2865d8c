import pytest

from serverless_gis.resources import package_resource


def test_reads_a_shipped_script() -> None:
    assert b"def main" in package_resource("serverless_gis.scripts", "build_artifact.py")


def test_a_file_the_package_does_not_ship_fails_naming_it() -> None:
    with pytest.raises(FileNotFoundError, match="`nope.py` is not shipped in the `serverless_gis.scripts` package"):
        package_resource("serverless_gis.scripts", "nope.py")
