"""Helpers shared by the rule tests: runtimes to reference, and the dependencies Pants resolves."""

from __future__ import annotations

from pants.engine.addresses import Address, Addresses
from pants.engine.target import Dependencies, DependenciesRequest
from pants.testutil.rule_runner import QueryRule, RuleRunner

# An x86_64 and an arm64 runtime, as `runtimes/BUILD`.
RUNTIMES_BUILD = "\n".join(
    f'serverless_runtime(name="{arch}", python_version="3.13", arch="{arch}", glibc="2.34", '
    f'resolve="{arch}", complete_platform="{arch}.json")'
    for arch in ("x86_64", "arm64")
)

DEPENDENCIES_QUERY = QueryRule(Addresses, [DependenciesRequest])


def resolved_dependencies(rule_runner: RuleRunner, address: Address) -> set[str]:
    """The dependencies of `address` (explicit and inferred), as specs; needs DEPENDENCIES_QUERY."""
    tgt = rule_runner.get_target(address)
    return {a.spec for a in rule_runner.request(Addresses, [DependenciesRequest(tgt[Dependencies])])}
