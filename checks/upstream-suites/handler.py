"""Run a binding's own test suite, from its pinned sdist, against the layer at /opt, inside the
runtime emulation (network off, /opt read-only, Lambda's sys.path and environment).

Event: {"project": "shapely"} runs that project's suite as `SUITES` describes it; an optional
"select" (paths inside the sdist) runs part of it. The result lists every test outcome that
differs from `expected/<project>.txt` (one `<test id>  # <reason>` per line: the tests that fail
here and why), so an empty result is a pass:

    {"unexpected_failures": [...], "expected_failures_that_passed": [...]}

The suite's own counts go to the log (stderr).
"""

import fnmatch
import importlib.metadata
import os
import shutil
import sys
import tarfile
import tempfile

import pytest  # pants: no-infer-dep (a requirement of this function only)

HERE = os.path.dirname(os.path.abspath(__file__))
LAYER_PYTHON = "/opt/python"

# Each suite: `version`, `unpack` ({file beside this handler: fnmatch patterns of the files taken
# from it, below its top directory}: the pinned sdist the layer's wheel is built from, plus test data
# the sdist leaves out), `package` (the
# tests live inside this package: they run inside a copy of the layer's package, which prunes
# `tests/`), `run` (pytest's paths) and `args` (the suite's own pytest options; network tests
# deselected, the network is off here). The tests never see the sdist's source package.
SUITES = {
    "shapely": {
        "version": "2.1.2",
        "package": "shapely",
        "unpack": {"shapely-2.1.2.tar.gz": ["shapely/tests/*"]},
        "run": ["shapely/tests"],
        # setup.cfg's [tool:pytest], which is not unpacked (it configures doctests of the sources)
        "args": ["-o", "xfail_strict=true"],
    },
    "pyproj": {
        "version": "3.7.2",
        "unpack": {"pyproj-3.7.2.tar.gz": ["test/*", "pytest.ini"]},
        "run": ["test"],
        # `grid` tests need PROJ grids, which PROJ downloads when asked (network).
        "args": ["-m", "not network and not grid"],
    },
    "rasterio": {
        "version": "1.5.2",
        # The sdist has no test data ("not distributed with sdists"): tests/data comes from the
        # upstream 1.4.3 release (Debian's orig tarball; the mirror has no 1.5.2 one).
        "unpack": {
            "rasterio-1.5.2.tar.gz": ["tests/*.py", "pyproject.toml"],
            "rasterio_1.4.3.orig.tar.gz": ["tests/data/*"],
        },
        "run": ["tests"],
        # `gdalbin` runs GDAL's programs, which layers do not ship; `wheel` checks PyPI wheels.
        "args": ["-m", "not network and not gdalbin and not wheel"],
        "env": {"AWS_EC2_METADATA_DISABLED": "true"},
    },
    "fiona": {
        "version": "1.10.1",
        "unpack": {"fiona-1.10.1.tar.gz": ["tests/*"]},
        "run": ["tests"],
        # test_opener_fsspec_zip_http_fs downloads from github.com without a `network` mark.
        "args": [
            "-m", "not network and not wheel",
            "--deselect", "tests/test_pyopener.py::test_opener_fsspec_zip_http_fs",
        ],
        "env": {"AWS_EC2_METADATA_DISABLED": "true"},
    },
    "numpy": {
        "version": "2.2.6",
        "package": "numpy",
        # The packages' __init__.py too (the same code as the layer's bytecode): pytest finds a test
        # module's package by its __init__.py files.
        "unpack": {
            "numpy-2.2.6.tar.gz": [
                "numpy/tests/*", "numpy/*/tests/*", "numpy/__init__.py", "numpy/*/__init__.py",
                "numpy/conftest.py", "pytest.ini",
            ],
        },
        "run": ["numpy"],
        # What numpy.test() and cibuildwheel run; numpy.distutils is not installed on Python 3.12+.
        "args": ["-m", "not slow", "--ignore=numpy/distutils"],
    },
}


class Outcomes:
    """A pytest plugin recording each test's outcome and each collection error."""

    def __init__(self):
        self.failed = set()
        self.counts = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "xpassed": 0, "error": 0}

    def pytest_collectreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid)
            self.counts["error"] += 1

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            if hasattr(report, "wasxfail"):
                self.counts["xfailed" if report.skipped else "xpassed"] += 1
            elif report.failed:
                self.failed.add(report.nodeid)
                self.counts["failed" if report.when == "call" else "error"] += 1
            else:
                self.counts[report.outcome] += 1


def expected_failures(project):
    """{test id: reason} from expected/<project>.txt; every line needs its reason."""
    expected = {}
    with open(os.path.join(HERE, "expected", f"{project}.txt")) as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            test_id, sep, reason = line.partition("  # ")
            if not sep or not reason.strip():
                raise ValueError(f"expected/{project}.txt:{number}: `{line.strip()}` has no `  # reason`")
            expected[test_id.strip()] = reason.strip()
    return expected


def unpack(source, patterns, dest):
    """The files of `source` matching `patterns` (its top directory stripped) into dest."""
    with tarfile.open(source) as tar:
        members = []
        for member in tar.getmembers():
            rel = member.name.partition("/")[2]
            if member.isfile() and any(fnmatch.fnmatchcase(rel, p) for p in patterns):
                member.name = rel
                members.append(member)
        if not members:
            raise ValueError(f"{os.path.basename(source)} has no file matching {patterns}")
        tar.extractall(dest, members=members, filter="data")


def handler(event, context):
    project = event["project"]
    suite = SUITES[project]
    installed = importlib.metadata.version(project)
    if installed != suite["version"]:
        raise RuntimeError(
            f"the layer has {project} {installed}, but the suite is {project} {suite['version']}: "
            "pin the same version in checks/upstream-suites as in native/bindings/wheelhouse.lock"
        )
    work = tempfile.mkdtemp(prefix=f"{project}-suite-", dir="/tmp")
    package = suite.get("package")
    if package:
        # The tests import each other as package modules (`shapely.tests.common`): they run inside
        # a copy of the layer's package (the same files), first on sys.path.
        shutil.copytree(os.path.join(LAYER_PYTHON, package), os.path.join(work, package))
        sys.path.insert(0, work)
    for source, patterns in suite["unpack"].items():
        unpack(os.path.join(HERE, source), patterns, work)
    # Some tests start Python in a subprocess: it must find the same packages.
    os.environ["PYTHONPATH"] = os.pathsep.join([*([work] if package else []), LAYER_PYTHON])
    os.environ.update(suite.get("env", {}))
    os.chdir(work)
    paths = event.get("select") or suite["run"]
    outcomes = Outcomes()
    pytest.main([*paths, "-p", "no:cacheprovider", "-q", "--tb=line", *suite["args"]], plugins=[outcomes])
    # A test may have closed sys.stderr.
    print(f"{project} {installed}: {outcomes.counts}", file=sys.__stderr__)
    expected = expected_failures(project)
    selected = {t for t in expected if any(t.startswith(p) for p in paths)}
    return {
        "unexpected_failures": sorted(outcomes.failed - set(expected)),
        "expected_failures_that_passed": sorted(selected - outcomes.failed),
    }
