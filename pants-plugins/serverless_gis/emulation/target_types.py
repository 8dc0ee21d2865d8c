"""Runtime emulation: Lambda-style invoke tests of packaged functions."""

from __future__ import annotations

import json
from typing import Optional

from pants.core.goals.test import TestTimeoutField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    InvalidFieldException,
    InvalidTargetException,
    Dependencies,
    DictStringToStringField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.references import TargetReferenceField, Variants


class EmulationDependenciesField(Dependencies):
    help = "Extra dependencies. The targets this target's address fields name are dependencies already."


class InvokeFunctionField(TargetReferenceField):
    alias = "function"
    expected_alias = "serverless_function"
    noun = "function"
    required = True
    help = "Address of the `serverless_function` (a single runtime variant) to invoke."


class JsonTextField(StringField):
    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None:
            try:
                json.loads(value)
            except ValueError as e:
                raise InvalidFieldException(
                    f"The `{cls.alias}` field of {address} is not valid JSON ({e}). Fix: write "
                    "JSON text, e.g. with `json.dumps(...)` in the BUILD file."
                )
        return value


class InvokeEventField(JsonTextField):
    alias = "event"
    default = "{}"
    help = "The event, as JSON text."


class InvokeExpectField(JsonTextField):
    alias = "expect"
    help = "The JSON result the handler must return (compared after parsing)."


class InvokeExpectErrorField(StringField):
    alias = "expect_error"
    help = help_text(
        """
        Instead of `expect`: the invoke must fail, and Lambda's error document must contain this
        text (a test that proves a broken layer is caught).
        """
    )


class InvokeEnvironmentField(DictStringToStringField):
    alias = "environment"
    help = "Extra environment variables of the invoke, on top of Lambda's (e.g. `PROJ_DATA`)."


class InvokeHideField(StringSequenceField):
    alias = "hide"
    default = ()
    help = help_text(
        """
        Paths under /opt (as `share/proj/proj.db`) removed from the unzipped layers before the
        invoke, to show what the function does when a layer lacks them.
        """
    )


class InvokeImageField(TargetReferenceField):
    alias = "image"
    expected_alias = "toolchain_image"
    noun = "toolchain image"
    required = True
    help = help_text(
        """
        Address of the bare `toolchain_image` standing in for the runtime (glibc no newer than
        the runtime's, no -dev packages).
        """
    )


class InvokePythonField(TargetReferenceField):
    alias = "python"
    expected_alias = "cpython_build"
    noun = "CPython build"
    required = True
    variants = Variants.SAME_ARCH
    help = help_text(
        """
        Address of the `cpython_build` mounted at /var/lang as the runtime's interpreter (the
        variant built for the function's runtime's arch).
        """
    )


class ServerlessInvokeTestTarget(Target):
    alias = "serverless_invoke_test"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        InvokeFunctionField,
        InvokeEventField,
        InvokeExpectField,
        InvokeExpectErrorField,
        InvokeEnvironmentField,
        InvokeHideField,
        InvokeImageField,
        InvokePythonField,
        TestTimeoutField,
        EmulationDependenciesField,
    )

    def validate(self) -> None:
        if (self[InvokeExpectField].value is None) == (self[InvokeExpectErrorField].value is None):
            raise InvalidTargetException(
                f"The `{self.alias}` target {self.address} sets "
                f"{'both' if self[InvokeExpectField].value is not None else 'neither'} of `expect` "
                "and `expect_error`. Fix: set exactly one: `expect` for the result a healthy "
                "invoke returns, `expect_error` for text the failure must contain."
            )
    help = help_text(
        """
        `test` runs the packaged function the way Lambda does: in the runtime image with the
        network off, its layers unzipped read-only at /opt, the function at /var/task, the built
        CPython at /var/lang, Lambda's sys.path and LD_LIBRARY_PATH, no GDAL_DATA/PROJ_DATA; the
        result must equal `expect`.
        """
    )
