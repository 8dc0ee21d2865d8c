"""Helpers shared by the rule tests: runtimes to reference, the dependencies Pants resolves, and
options to build tool venvs as this repository does."""

from __future__ import annotations

import re
from pathlib import Path

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


def set_tool_options(rule_runner: RuleRunner, *args: str) -> None:
    """`args`, plus this repository's pex tool, Python and pip (`[pex-cli]`, `[python]`'s
    `interpreter_constraints`, `interpreter_versions_universe` and `pip_version`,
    `[subprocess-environment]` of its pants.toml); interpreters from PATH and pyenv, and the CA
    bundle `./pants` found (`PANTS_CA_CERTS_PATH`) for downloads."""
    text = Path("pants.toml").read_text()
    sections = [
        re.search(rf"^\[{section}\]\n(?:.+\n)+", text, re.MULTILINE).group(0)
        for section in ("pex-cli", "subprocess-environment")
    ]
    python = [
        re.search(rf"^{key} = .+$", text, re.MULTILINE).group(0)
        for key in ("interpreter_constraints", "interpreter_versions_universe", "pip_version")
    ]
    rule_runner.write_files({"tools.toml": "\n".join([*sections, "[python]", *python, ""])})
    rule_runner.set_options(
        [f"--pants-config-files=['{rule_runner.build_root}/tools.toml']", *args],
        env_inherit={"HOME", "PATH", "PYENV_ROOT", "PANTS_CA_CERTS_PATH"},
    )
