import json

from pants.testutil.rule_runner import RuleRunner
from serverless_gis import register


def test_complete_platforms_goal_writes_runtime_files() -> None:
    rule_runner = RuleRunner(rules=register.rules(), target_types=register.target_types())
    rule_runner.write_files(
        {
            "runtimes/BUILD": (
                'serverless_runtime(name="rt", python_version="3.12", arch="arm64", glibc="2.28", '
                'resolve="rt", complete_platform="rt.json")'
            )
        }
    )
    result = rule_runner.run_goal_rule(
        __import__("serverless_gis.runtime.rules", fromlist=["x"]).CompletePlatformsGoal,
        args=["runtimes:rt"],
    )
    assert result.exit_code == 0
    platform = json.loads(open(f"{rule_runner.build_root}/runtimes/rt.json").read())
    assert platform["marker_environment"]["python_full_version"] == "3.12.0"
    assert platform["compatible_tags"][0] == "cp312-cp312-manylinux_2_28_aarch64"
