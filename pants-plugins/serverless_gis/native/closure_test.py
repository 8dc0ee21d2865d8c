from __future__ import annotations

from pants.engine.addresses import Address
from pants.engine.target import Targets
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis.native import closure
from serverless_gis.native.closure import NativeClosureTargets, NativeClosureTargetsRequest
from serverless_gis.native.target_types import NativeLibraryTarget, ToolchainImageTarget


def test_the_closure_follows_dependencies_and_leaves_out_what_the_runtime_provides() -> None:
    runner = RuleRunner(
        rules=[*closure.rules(), QueryRule(NativeClosureTargets, [NativeClosureTargetsRequest])],
        target_types=[NativeLibraryTarget, ToolchainImageTarget],
    )
    runner.write_files(
        {
            "toolchain/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n',
            "native/BUILD": "".join(
                f'native_library(name="{name}", source="{name}.tar.gz", toolchain="//toolchain:tc", '
                f"dependencies={deps}{extra})\n"
                for name, deps, extra in (
                    ("zlib", [], ", runtime_provided=True"),
                    ("sqlite", [":zlib"], ""),
                    ("proj", [":sqlite", ":zlib"], ""),
                    ("geos", [], ""),
                    ("gdal", [":proj", ":geos"], ""),
                    ("unrelated", [], ""),
                )
            ),
        }
    )
    gdal = runner.get_target(Address("native", target_name="gdal"))
    got = runner.request(NativeClosureTargets, [NativeClosureTargetsRequest(Targets([gdal]))])
    assert [a.target_name for a in got.shipped] == ["gdal", "geos", "proj", "sqlite"]
