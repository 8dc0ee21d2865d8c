"""The `serverless_function` target: handler code, its runtime and the layers it runs on."""

from __future__ import annotations

from typing import Iterable

from packaging.requirements import InvalidRequirement, Requirement

from pants.backend.python.util_rules.faas import PythonFaaSHandlerField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringField,
    InvalidFieldException,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.references import RuntimeReferenceField, TargetReferencesField, Variants


class FunctionHandlerField(PythonFaaSHandlerField):
    help = help_text(
        """
        The handler as `file.py:function` (relative to this BUILD file) or `module:function`.
        Its module's `python_source` in the runtime's resolve becomes a dependency.
        """
    )


class FunctionRuntimeField(RuntimeReferenceField):
    help = help_text(
        """
        Address of the `serverless_runtime` to build for; `parametrize(...)` it to build the
        function for several runtimes.
        """
    )


class FunctionLayersField(TargetReferencesField):
    alias = "layers"
    expected_alias = "serverless_layer"
    noun = "layer"
    owner_noun = "function"
    variants = Variants.SAME_RUNTIME
    help = help_text(
        """
        Addresses of `serverless_layer` targets the function runs on, in mount order. For a
        layer parametrized by runtime, give its base address: the variant for this function's
        runtime is used. Distributions a layer provides are left out of the function's zip.
        """
    )


class FunctionRequirementsField(StringSequenceField):
    alias = "requirements"
    default = ()
    help = help_text(
        """
        Python requirements of this function only, e.g. `["geojson==3.2.0"]` (PEP 508). They
        are locked in the runtime's lockfile with everything else, so they must agree with the
        versions locked for the function's layers, but they are not `python_requirement`
        targets: other functions neither see them nor become ambiguous importers of them.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Iterable[str] | None, address: Address) -> tuple[str, ...] | None:
        value = super().compute_value(raw_value, address)
        for requirement in value or ():
            try:
                Requirement(requirement)
            except InvalidRequirement as e:
                raise InvalidFieldException(
                    f"{address}: `{cls.alias}` holds `{requirement}`, which is not a PEP 508 "
                    f"requirement ({e}). Fix: write it like `geojson==3.2.0` or `shapely>=2.1,<2.2`."
                )
        return value


class FunctionEnvironmentField(DictStringToStringField):
    alias = "environment"
    help = "Environment variables for the deployed function, recorded in its manifest."


class FunctionDependenciesField(Dependencies):
    supports_transitive_excludes = True


class ServerlessFunctionTarget(Target):
    alias = "serverless_function"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        FunctionHandlerField,
        FunctionRuntimeField,
        FunctionLayersField,
        FunctionRequirementsField,
        FunctionEnvironmentField,
        FunctionDependenciesField,
    )
    help = help_text(
        """
        A serverless function. `package` writes its deployable zip (without what its layers
        provide), a PEX, and a JSON manifest, and checks it against the runtime's limits.
        """
    )
