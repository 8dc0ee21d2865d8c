"""The licence gate: SPDX expressions of native components against the repository's allow-list and
a layer's opt-in, evaluated by license-expression in the `[serverless-sbom]` tool."""

from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import register
from serverless_gis.layer.rules import BuiltLayer, ServerlessLayerFieldSet
from serverless_gis.licenses.rules import LicenseGate, LicenseGateRequest
from serverless_gis.testutil import RUNTIMES_BUILD, set_tool_options

LAYER = Address("layers", target_name="geo")
ALLOWED = ("MIT", "BSD-3-Clause", "lgpl-2.1-or-later")  # ids compare case-insensitively
LICENSES = {
    "mit": "MIT",
    "gpl": "GPL-2.0-or-later",
    "either": "MIT OR GPL-2.0-only",
    "both": "MIT AND GPL-2.0-only",
    "classpath": "GPL-2.0-or-later WITH Classpath-exception-2.0",
    "geos": "LGPL-2.1-or-later",
    "typo": "Apache2",
}


@pytest.fixture(scope="module")
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *register.rules(),
            QueryRule(LicenseGate, [LicenseGateRequest]),
            QueryRule(BuiltLayer, [ServerlessLayerFieldSet]),
        ],
        target_types=register.target_types(),
    )
    runner.write_files(
        {
            "toolchain/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n',
            "native/BUILD": "".join(
                f'native_library(name="{name}", source="{name}.tar.gz", toolchain="//toolchain:tc", '
                f'license="{spdx}", license_files=["LICENSE"])\n'
                for name, spdx in LICENSES.items()
            )
            + 'native_library(name="unlicensed", source="u.tar.gz", toolchain="//toolchain:tc")\n',
        }
    )
    set_tool_options(runner, f"--serverless-licenses-allowed={list(ALLOWED)}")
    return runner


def gate(rule_runner: RuleRunner, *names: str, opt_in: tuple[str, ...] = ()) -> LicenseGate:
    natives = tuple(Address("native", target_name=n) for n in names)
    return rule_runner.request(LicenseGate, [LicenseGateRequest(LAYER, natives, opt_in)])


def gate_error(rule_runner: RuleRunner, *names: str, opt_in: tuple[str, ...] = ()) -> str:
    with pytest.raises(ExecutionError) as exc:
        gate(rule_runner, *names, opt_in=opt_in)
    return str(exc.value)


@pytest.mark.parametrize(
    "names, opt_in",
    [
        (("mit", "geos"), ()),
        (("either",), ()),  # one alternative allowed
        (("gpl",), ("GPL-2.0-or-later",)),  # the layer opts in
        (("classpath",), ("GPL-2.0-or-later",)),  # the exception only adds permissions
        (("classpath",), ("GPL-2.0-or-later WITH Classpath-exception-2.0",)),
    ],
)
def test_allowed(rule_runner: RuleRunner, names: tuple[str, ...], opt_in: tuple[str, ...]) -> None:
    assert gate(rule_runner, *names, opt_in=opt_in) == LicenseGate()


def test_gpl_without_opt_in_names_layer_component_licence_and_fix(rule_runner: RuleRunner) -> None:
    message = gate_error(rule_runner, "mit", "gpl")
    assert "layers:geo: the layer's native components fail the licence gate" in message
    assert "native:gpl: GPL-2.0-or-later (not allowed: GPL-2.0-or-later)" in message
    assert "native:mit" not in message
    assert "Allowed everywhere ([serverless-licenses].allowed): MIT, BSD-3-Clause, lgpl-2.1-or-later" in message
    assert 'opt this layer in explicitly with `allowed_licenses=["GPL-2.0-or-later"]`' in message


def test_and_needs_every_licence_allowed(rule_runner: RuleRunner) -> None:
    message = gate_error(rule_runner, "both")
    assert "native:both: MIT AND GPL-2.0-only (not allowed: GPL-2.0-only)" in message


def test_an_exception_does_not_allow_another_exception(rule_runner: RuleRunner) -> None:
    message = gate_error(rule_runner, "classpath", opt_in=("GPL-2.0-or-later WITH Autoconf-exception-2.0",))
    assert "(not allowed: GPL-2.0-or-later WITH Classpath-exception-2.0)" in message


def test_missing_and_invalid_licences_fail(rule_runner: RuleRunner) -> None:
    message = gate_error(rule_runner, "unlicensed", "typo")
    assert "native:unlicensed: declares no `license`" in message
    assert 'native:typo: `license="Apache2"` is not a valid SPDX expression' in message
    assert "Apache2" in message and "set `license` (an SPDX expression" in message


def test_an_unknown_id_in_the_allow_list_fails(rule_runner: RuleRunner) -> None:
    message = gate_error(rule_runner, "mit", opt_in=("GPL-2.0-orlater",))
    assert "its `allowed_licenses` lists `GPL-2.0-orlater`: not on the SPDX licence list" in message


def test_a_layer_fails_the_gate_before_anything_is_built(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "runtimes/BUILD": RUNTIMES_BUILD,
            "runtimes/x86_64.json": "{}",
            "runtimes/arm64.json": "{}",
            "layers/BUILD": 'serverless_layer(name="gpl", runtime="//runtimes:x86_64", natives=["//native:mit", "//native:gpl"])\n',
        }
    )
    # Neither the toolchain's lockfile nor the sources exist here: any build would fail first.
    layer = rule_runner.get_target(Address("layers", target_name="gpl"))
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(BuiltLayer, [ServerlessLayerFieldSet.create(layer)])
    assert "layers:gpl: the layer's native components fail the licence gate" in str(exc.value)
    assert "native:gpl: GPL-2.0-or-later" in str(exc.value)


@pytest.mark.parametrize(
    "expression, error",
    [
        ("MIT and BSD-3-Clause", "operators are upper case: `AND`, not `and`"),
        ("MIT BSD-3-Clause", "`BSD-3-Clause` follows a licence id where `AND` or `OR` is needed"),
        ("MIT AND", "it ends with an operator or an unclosed `(`"),
        ("(MIT OR Zlib", "it ends with an operator or an unclosed `(`"),
        ("MIT, BSD-3-Clause", "`MIT,` is not an SPDX licence id"),
        ("GPL-2.0-only WITH", "`WITH` needs a licence id before it and an exception id after it"),
    ],
)
def test_a_malformed_expression_fails_when_the_build_file_is_parsed(
    rule_runner: RuleRunner, expression: str, error: str
) -> None:
    rule_runner.write_files(
        {
            "malformed/BUILD": f'native_library(name="m", source="m.tar.gz", toolchain="//toolchain:tc", '
            f'license="{expression}", license_files=["LICENSE"])\n'
        }
    )
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("malformed", target_name="m"))
    assert f"malformed:m: `license` is not an SPDX licence expression ({expression!r}: {error})" in str(exc.value)
    assert "Fix: write SPDX ids as https://spdx.org/licenses/ spells them" in str(exc.value)


def test_well_formed_expressions_parse(rule_runner: RuleRunner) -> None:
    for name in (*LICENSES, "unlicensed"):
        rule_runner.get_target(Address("native", target_name=name))
    rule_runner.write_files(
        {
            "grouped/BUILD": 'native_library(name="g", source="g.tar.gz", toolchain="//toolchain:tc", '
            'license="(MIT OR Apache-2.0) AND (GPL-2.0-only WITH Classpath-exception-2.0)", license_files=["L"])\n'
        }
    )
    rule_runner.get_target(Address("grouped", target_name="g"))
