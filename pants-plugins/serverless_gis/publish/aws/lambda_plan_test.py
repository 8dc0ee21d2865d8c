from __future__ import annotations

import base64
import hashlib

from serverless_gis.publish.aws.lambda_plan import (
    alias_description,
    code_sha256,
    desired_configuration,
    layer_version_with_code,
    plan_function,
    previous_version,
)

SHA = hashlib.sha256(b"zip").hexdigest()
SHA_B64 = code_sha256(SHA)
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:base-x86_64:1"
DESIRED = desired_configuration(
    role="arn:aws:iam::123456789012:role/r",
    handler="handler.handler",
    runtime="python3.13",
    memory_mb=256,
    timeout_seconds=30,
    environment={"B": "2", "A": "1"},
    layer_arns=[LAYER],
)


def deployed(version: str = "$LATEST", sha: str = SHA_B64, **changes) -> dict:
    """A configuration as Lambda returns it, matching DESIRED unless changed."""
    config = {
        "Version": version,
        "CodeSha256": sha,
        "Architectures": ["x86_64"],
        "Role": DESIRED["Role"],
        "Handler": DESIRED["Handler"],
        "Runtime": DESIRED["Runtime"],
        "MemorySize": 256,
        "Timeout": 30,
        "Environment": {"Variables": {"A": "1", "B": "2"}},
        "Layers": [{"Arn": LAYER, "CodeSize": 10}],
    }
    config.update(changes)
    return config


def test_code_sha256_is_lambdas_base64_digest() -> None:
    assert code_sha256(SHA) == base64.b64encode(hashlib.sha256(b"zip").digest()).decode()


def test_layer_version_with_the_same_digest_is_reused() -> None:
    versions = [
        {"Version": 1, "Content": {"CodeSha256": "other"}},
        {"Version": 2, "Content": {"CodeSha256": SHA_B64}},
    ]
    assert layer_version_with_code(versions, SHA_B64)["Version"] == 2
    assert layer_version_with_code(versions[:1], SHA_B64) is None
    assert layer_version_with_code([], SHA_B64) is None


def test_missing_function_is_created_and_aliased() -> None:
    plan = plan_function(None, [], None, DESIRED, SHA_B64, "x86_64")
    assert plan.create and plan.version is None and plan.alias_moves and plan.alias_from is None
    assert plan.describe("live") == ["create function", "new version", "alias move live: (new alias) -> new version"]


def test_deployed_function_in_place_changes_nothing() -> None:
    versions = [deployed(), deployed("1")]
    plan = plan_function(deployed(), versions, {"FunctionVersion": "1"}, DESIRED, SHA_B64, "x86_64")
    assert not plan.create and not plan.code_change and not plan.config_changes
    assert plan.version == "1" and not plan.alias_moves
    assert plan.describe("live") == ["reuse version 1", "alias live unchanged at 1"]


def test_new_code_needs_code_update_new_version_and_alias_move() -> None:
    new = code_sha256(hashlib.sha256(b"new zip").hexdigest())
    plan = plan_function(deployed(), [deployed("1")], {"FunctionVersion": "1"}, DESIRED, new, "x86_64")
    assert plan.code_change and not plan.config_changes
    assert plan.version is None and plan.alias_moves and plan.alias_from == "1"


def test_configuration_differences_are_named() -> None:
    current = deployed(MemorySize=128, Environment={"Variables": {"A": "1"}}, Layers=[])
    plan = plan_function(current, [], {"FunctionVersion": "1"}, DESIRED, SHA_B64, "x86_64")
    assert set(plan.config_changes) == {"MemorySize", "Environment", "Layers"}
    assert plan.config_changes["MemorySize"] == (128, 256)
    assert not plan.code_change


def test_ephemeral_storage_is_configuration() -> None:
    # A configuration from before the setting reads as Lambda's default, 512 MB.
    assert plan_function(deployed(), [], {"FunctionVersion": "1"}, DESIRED, SHA_B64, "x86_64").config_changes == {}
    bigger = {**DESIRED, "EphemeralStorage": {"Size": 4096}}
    plan = plan_function(deployed(), [], {"FunctionVersion": "1"}, bigger, SHA_B64, "x86_64")
    assert plan.config_changes == {"EphemeralStorage": ({"Size": 512}, {"Size": 4096})}


def test_architecture_change_is_a_code_change() -> None:
    plan = plan_function(deployed(), [], None, DESIRED, SHA_B64, "arm64")
    assert plan.code_change


def test_rerun_after_failure_before_alias_reuses_the_published_version() -> None:
    # Code updated and version 2 published, then the run died before moving the alias.
    versions = [deployed(), deployed("1", sha="old"), deployed("2")]
    plan = plan_function(deployed(), versions, {"FunctionVersion": "1"}, DESIRED, SHA_B64, "x86_64")
    assert not plan.code_change and not plan.config_changes
    assert plan.version == "2" and plan.alias_moves and plan.alias_from == "1"


def test_version_with_other_configuration_is_not_reused() -> None:
    versions = [deployed("1", MemorySize=128)]
    plan = plan_function(deployed(), versions, {"FunctionVersion": "1"}, DESIRED, SHA_B64, "x86_64")
    assert plan.version is None and plan.alias_moves


def test_previous_version_round_trips_through_the_alias_description() -> None:
    assert previous_version({"Description": alias_description("7")}) == "7"
    assert previous_version({"Description": alias_description(None)}) is None
    assert previous_version({}) is None
