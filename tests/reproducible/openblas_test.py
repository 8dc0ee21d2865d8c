"""OpenBLAS's configuration is the pinned baseline, never the CPU of the machine that built it.

Without TARGET, OpenBLAS's getarch probes the build host: core name, cache sizes and SIMD flags
land in openblas_config.h, in the pkg-config string numpy records in its `__config__`, and in the
library, so two machines built different layers (a Zen host wrote "ZEN" where an Intel one wrote
its own core).
"""

from __future__ import annotations

from pathlib import Path

import pytest

TREE = {arch: Path(f"native/openblas/openblas-{arch}") for arch in ("x86_64", "arm64")}
BASELINE = {"x86_64": "PRESCOTT", "arm64": "ARMV8"}


def test_x86_64_config_is_the_prescott_baseline() -> None:
    config = (TREE["x86_64"] / "include/openblas/openblas_config.h").read_text()
    assert '#define OPENBLAS_CHAR_CORENAME "PRESCOTT"' in config, config[:1500]
    # Prescott's fixed cache geometry, not a probed one.
    assert "#define OPENBLAS_L2_SIZE 1048576" in config
    assert "OPENBLAS_HAVE_AVX" not in config


def test_arm64_config_is_the_armv8_baseline() -> None:
    config = (TREE["arm64"] / "include/openblas/openblas_config.h").read_text()
    assert '#define OPENBLAS_CHAR_CORENAME "ARMV8"' in config, config[:1500]
    assert "OPENBLAS_HAVE_SVE" not in config


@pytest.mark.parametrize("arch", sorted(TREE))
def test_pkg_config_names_no_host_core(arch: str) -> None:
    pc = (TREE[arch] / "lib/pkgconfig/openblas.pc").read_text()
    line = next(l for l in pc.splitlines() if l.startswith("openblas_config="))
    assert line.rstrip().endswith(f" {BASELINE[arch]} MAX_THREADS=16"), line
