import pytest
from pants.engine.addresses import Address
from serverless_gis.bindings.rules import BindingsError, WheelhouseFile, check_versions, parse_wheelhouse

ADDRESS = Address("native/bindings", target_name="gis")
FILES = (
    WheelhouseFile("pyproj", "3.7.2", "sdist", "pyproj-3.7.2.tar.gz", "https://x/pyproj-3.7.2.tar.gz", "0" * 64, 1),
    WheelhouseFile("numpy", "2.2.6", "wheel", "numpy-2.2.6-cp313.whl", "https://x/numpy.whl", "1" * 64, 2),
)


def check(wanted: dict[str, str], locked: dict[str, str]) -> dict[str, str]:
    return check_versions(ADDRESS, wanted, FILES, locked, "3rdparty/x86.lock", "native/bindings/wheelhouse.lock")


def test_versions_must_match_the_runtime_lockfile() -> None:
    assert check({"pyproj": "sdist", "numpy": "wheel"}, {"pyproj": "3.7.2", "numpy": "2.2.6"}) == {
        "pyproj": "3.7.2",
        "numpy": "2.2.6",
    }
    with pytest.raises(BindingsError, match=r"native/bindings:gis: version conflict on `pyproj`: the wheelhouse has 3.7.2, the runtime's lockfile 3rdparty/x86.lock pins 3.6.1"):
        check({"pyproj": "sdist"}, {"pyproj": "3.6.1"})


def test_missing_or_wrong_kind_and_unlocked_projects_are_named() -> None:
    with pytest.raises(BindingsError, match=r"exactly one sdist of `numpy`, found none\. Add `numpy==<version>  # sdist`"):
        check({"numpy": "sdist"}, {"numpy": "2.2.6"})
    with pytest.raises(BindingsError, match=r"`pyproj` is not in the runtime's lockfile"):
        check({"pyproj": "sdist"}, {})


def test_a_wheelhouse_lock_that_is_not_json_names_the_fix() -> None:
    with pytest.raises(BindingsError, match=r"is not a wheelhouse lock .*lock-wheelhouse\.py"):
        parse_wheelhouse(ADDRESS, "native/bindings/wheelhouse.lock", b"pyproj==3.7.2 --hash=sha256:00")
