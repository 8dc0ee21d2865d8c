"""A pytest plugin the suite handler loads into every upstream suite, so that no verdict depends on
how fast the machine is (arm64 runs under qemu, often beside other work on 2 cores):

- hypothesis: every test runs with `deadline=None` and `HealthCheck.too_slow` suppressed. A test's
  settings are fixed when its module is imported (`@given` takes `settings.default` then, `@settings`
  its arguments over that default) and a suite's conftest may load its own profile (numpy's does),
  so loading a profile first is not enough: once collection is done (every conftest and test
  module imported) each collected hypothesis test gets its own settings with these two changed, an
  explicit `@settings(deadline=...)` included; the default profile becomes the same, for settings
  read while tests run. Nothing else in the suites' settings changes (examples, health checks
  other than too_slow, derandomize, database).
- `HANG_GUARDS`: tests whose time limit guards against a hang, sized for a fast idle machine; the
  limit is multiplied while such a test runs, so a deadlock still fails the test.
"""

from __future__ import annotations

import concurrent.futures
import functools
import warnings

import pytest  # pants: no-infer-dep (a requirement of this function only)

PROFILE = "upstream-suites-speed-independent"

# {test id: factor} for the `timeout` of `concurrent.futures.Executor.map` in these tests: a hang
# guard then, never a benchmark.
HANG_GUARDS = {
    # rasterio: 16 GeoTIFF reads on 8 threads within Executor.map(timeout=5), a check that the
    # reads do not deadlock; seconds of CPU under qemu on a loaded machine. 5 s -> 300 s.
    "tests/test_filepath.py::test_concurrent": 60,
}


def speed_independent(settings):
    """`settings` with no deadline and the too_slow health check suppressed."""
    from hypothesis import HealthCheck  # pants: no-infer-dep (a requirement of this function only)
    from hypothesis import settings as Settings  # pants: no-infer-dep
    from hypothesis.errors import HypothesisDeprecationWarning  # pants: no-infer-dep

    with warnings.catch_warnings():
        # Validating the suite's own suppressions again must not warn (a deprecated health check
        # there warned once already): suites turn warnings into errors (numpy, rasterio).
        warnings.simplefilter("ignore", HypothesisDeprecationWarning)
        return Settings(
            parent=settings,
            deadline=None,
            suppress_health_check=list(dict.fromkeys([*settings.suppress_health_check, HealthCheck.too_slow])),
        )


def load_profile():
    """Make the current default profile (the suite's, if its conftest loaded one) speed-independent."""
    from hypothesis import settings as Settings  # pants: no-infer-dep

    Settings.register_profile(PROFILE, speed_independent(Settings.default))
    Settings.load_profile(PROFILE)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # After hypothesis' own plugin (`--hypothesis-profile`) and the `-p` conftests: the default for
    # test modules imported from here on.
    load_profile()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    load_profile()  # a conftest below the suite's top directory may have loaded another profile
    from hypothesis import settings as Settings  # pants: no-infer-dep

    for item in items:
        obj = getattr(item, "obj", None)
        function = getattr(obj, "__func__", obj)
        # @given's wrapper reads this attribute each time it runs.
        settings = getattr(function, "_hypothesis_internal_use_settings", None)
        if isinstance(settings, Settings):
            function._hypothesis_internal_use_settings = speed_independent(settings)
        # A RuleBasedStateMachine's TestCase runs with its class attribute `settings`.
        cls = getattr(item, "cls", None)
        if cls is not None and isinstance(getattr(cls, "settings", None), Settings):
            cls.settings = speed_independent(cls.settings)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    factor = HANG_GUARDS.get(item.nodeid)
    if factor is None:
        yield
        return
    original = concurrent.futures.Executor.map

    @functools.wraps(original)
    def map_with_scaled_timeout(self, fn, *iterables, timeout=None, **kwargs):
        return original(self, fn, *iterables, timeout=None if timeout is None else timeout * factor, **kwargs)

    concurrent.futures.Executor.map = map_with_scaled_timeout
    try:
        yield
    finally:
        concurrent.futures.Executor.map = original
