"""Run a binding's own test suite, from its pinned sdist, against the layer at /opt, inside the
runtime emulation (network off, /opt read-only, Lambda's sys.path and environment).

Event: {"project": "shapely"} runs that project's suite as `SUITES` describes it;
"modules": "compiled" runs only its modules that exercise compiled code where the CPU matters (what
an emulated CPU is for: the rest is the same Python on every CPU); an optional "select" (test
paths or ids) runs part of it, "args" adds pytest options (e.g. `--tb=long`). The result lists every test outcome that
differs from `expected/<project>.txt` (one `<test id>  # <reason>` per line: the tests that fail
here and why; a line starting `[aarch64] ` or `[x86_64] ` holds on that CPU only), so an empty
result is a pass:

    {"unexpected_failures": [...], "expected_failures_that_passed": [...]}

The suite's own counts go to the log (stderr).
"""

import fnmatch
import importlib.metadata
import os
import platform
import re
import sys
import tarfile
import tempfile

import pytest  # pants: no-infer-dep (a requirement of this function only)

import suite_timing

HERE = os.path.dirname(os.path.abspath(__file__))

# Each suite: `version`, `unpack` ({file beside this handler: fnmatch patterns of the files taken
# from it, below its top directory}: the pinned sdist the layer's wheel is built from, plus test data
# the sdist leaves out; `!pattern` leaves files out), `package` (the tests live inside this package,
# whose `tests/` the layer prunes: they are joined to the layer's package, see `join_tests`), `run`
# (pytest's paths), `compiled` (the paths "modules": "compiled" runs), `args` (the suite's own
# pytest options; network tests deselected, the network is off here) and `ignore` (paths not
# collected, each with its reason). The tests never import the sdist's sources: only the layer's.
SUITES = {
    "shapely": {
        "version": "2.1.2",
        "package": "shapely",
        "unpack": {"shapely-2.1.2.tar.gz": ["shapely/tests/*", "shapely/__init__.py"]},
        "run": ["shapely/tests"],
        # Every module calls GEOS, PROJ or GDAL through the extension modules.
        "compiled": ["shapely/tests"],
        # setup.cfg's [tool:pytest] (not unpacked: it configures doctests of the sources); the
        # package's conftest, from the layer.
        "args": ["-o", "xfail_strict=true", "-p", "shapely.conftest"],
    },
    "pyproj": {
        "version": "3.7.2",
        "unpack": {"pyproj-3.7.2.tar.gz": ["test/*", "pytest.ini"]},
        "run": ["test"],
        # Every module calls GEOS, PROJ or GDAL through the extension modules.
        "compiled": ["test"],
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
        # Every module calls GEOS, PROJ or GDAL through the extension modules.
        "compiled": ["tests"],
        # `gdalbin` runs GDAL's programs, which layers do not ship; `wheel` checks PyPI wheels.
        "args": ["-m", "not network and not gdalbin and not wheel"],
        "env": {"AWS_EC2_METADATA_DISABLED": "true"},
    },
    "fiona": {
        "version": "1.10.1",
        "unpack": {"fiona-1.10.1.tar.gz": ["tests/*"]},
        "run": ["tests"],
        # Every module calls GEOS, PROJ or GDAL through the extension modules.
        "compiled": ["tests"],
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
        "unpack": {
            "numpy-2.2.6.tar.gz": [
                "numpy/tests/*", "numpy/*/tests/*", "numpy/__init__.py", "numpy/*/__init__.py", "pytest.ini",
                # Not installed on Python 3.12+.
                "!numpy/distutils/*",
            ],
        },
        "run": ["numpy"],
        "compiled": [
            # SIMD dispatch and the loops it selects (float16 in hardware on arm64)
            *(f"numpy/_core/tests/{m}.py" for m in (
                "test_cpu_features", "test_cpu_dispatcher", "test_umath", "test_umath_accuracy",
                "test_umath_complex", "test_ufunc", "test_einsum", "test_scalarmath", "test_half",
                "test_casting_unittests",
            )),
            # OpenBLAS' kernels for the CPU, pocketfft, the bit generators' reference streams
            "numpy/linalg/tests", "numpy/fft/tests", "numpy/random/tests/test_direct.py",
        ],
        # What numpy.test() and cibuildwheel run, with the package's conftest from the layer.
        "args": ["-m", "not slow", "-p", "numpy.conftest"],
        # f2py's tests compile Fortran and C with meson and a compiler, which Lambda does not have.
        "ignore": ["numpy/f2py"],
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


def expected_failures(project, machine=None):
    """{test id: reason} from expected/<project>.txt for this CPU; every line needs its reason."""
    machine = machine or platform.machine()
    expected = {}
    with open(os.path.join(HERE, "expected", f"{project}.txt")) as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            only = re.match(r"\[(\w+)\] ", line)
            if only:
                line = line[only.end():]
            test_id, sep, reason = line.partition("  # ")
            if not sep or not reason.strip():
                raise ValueError(f"expected/{project}.txt:{number}: `{line.strip()}` has no `  # reason`")
            if not only or only.group(1) == machine:
                expected[test_id.strip()] = reason.strip()
    return expected


def unpack(source, patterns, dest):
    """The files of `source` matching `patterns` and no `!pattern` (its top directory stripped)
    into dest."""
    taken = [p for p in patterns if not p.startswith("!")]
    left = [p[1:] for p in patterns if p.startswith("!")]
    with tarfile.open(source) as tar:
        members = []
        for member in tar.getmembers():
            rel = member.name.partition("/")[2]
            wanted = any(fnmatch.fnmatchcase(rel, p) for p in taken)
            if member.isfile() and wanted and not any(fnmatch.fnmatchcase(rel, p) for p in left):
                member.name = rel
                members.append(member)
        if not members:
            raise ValueError(f"{os.path.basename(source)} has no file matching {patterns}")
        tar.extractall(dest, members=members, filter="data")


def join_tests(work, package):
    """Make the unpacked tests part of the layer's packages: each package directory under
    work/<package> joins the `__path__` of the layer's package of that name, so
    `numpy._core.tests` resolves there while everything else still loads from /opt."""
    for dirpath, _, filenames in sorted(os.walk(os.path.join(work, package))):
        if "__init__.py" not in filenames:
            continue
        name = os.path.relpath(dirpath, work).replace(os.sep, ".")
        parent, _, last = name.rpartition(".")
        if last == "tests" or parent and parent.rsplit(".", 1)[-1] == "tests":
            continue  # a tests package itself: only its parent's __path__ needs it
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # not in the layer (e.g. a build-time subpackage)
        if dirpath not in module.__path__:
            module.__path__.append(dirpath)


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
    for source, patterns in suite["unpack"].items():
        unpack(os.path.join(HERE, source), patterns, work)
    args = [
        *suite["args"],
        *(f"--ignore={os.path.join(work, p)}" for p in suite.get("ignore", ())),
        *event.get("args", ()),
    ]
    if suite.get("package"):
        join_tests(work, suite["package"])
        # pytest names test modules by their __init__.py files (`numpy._core.tests.test_x`) and
        # imports them by name: `append` keeps the layer's packages first on sys.path.
        args.append("--import-mode=append")
    # Some tests start Python in a subprocess: it must find the same packages (pytest, the layer).
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    os.environ.update(suite.get("env", {}))
    paths = event.get("select") or suite["compiled" if event.get("modules") == "compiled" else "run"]
    if suite.get("package"):
        # `python -c` in a subprocess puts its working directory first on sys.path: it must not hold
        # the unpacked package directory.
        os.chdir(tempfile.mkdtemp(dir=work))
        targets = [os.path.join(work, p) for p in paths]
    else:
        os.chdir(work)  # the tests open their data by relative paths
        targets = paths
    outcomes = Outcomes()
    # A module that fails to import is one failure, not the end of the run. `suite_timing`: no
    # hypothesis deadline or too_slow health check, hang guards scaled (no verdict depends on speed).
    pytest.main(
        [*targets, f"--rootdir={work}", "-p", "no:cacheprovider", "-q", "--tb=line",
         "--continue-on-collection-errors", *args],
        plugins=[outcomes, suite_timing],
    )
    # A test may have closed sys.stderr.
    print(f"{project} {installed}: {outcomes.counts}", file=sys.__stderr__)
    if not outcomes.counts["passed"]:
        raise RuntimeError(f"no test of the {project} suite passed: {outcomes.counts}")
    expected = expected_failures(project)
    selected = {t for t in expected if any(t.startswith(p) for p in paths)}
    return {
        "unexpected_failures": sorted(outcomes.failed - set(expected)),
        "expected_failures_that_passed": sorted(selected - outcomes.failed),
    }
