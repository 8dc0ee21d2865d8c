"""Runtime emulation: a CPython built in the toolchain, and Lambda-style invoke tests."""

from __future__ import annotations

from pants.core.goals.test import TestTimeoutField
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    DictStringToStringField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.native.target_types import NativePolicyField, NativeSourceField, NativeToolchainField


class CPythonPrefixField(StringField):
    alias = "prefix"
    default = "/var/lang"
    help = "Install prefix; AWS Lambda keeps its Python in /var/lang (layers go to /opt)."


class CPythonBuildTarget(Target):
    alias = "cpython_build"
    core_fields = (
        *COMMON_TARGET_FIELDS, NativeSourceField, NativeToolchainField, CPythonPrefixField, NativePolicyField
    )
    help = help_text(
        """
        CPython built from a pinned source in a toolchain image (network off), so wheels and the
        runtime emulation use an interpreter no newer than the runtime's glibc allows.
        """
    )


class InvokeFunctionField(StringField):
    alias = "function"
    required = True
    help = "Address of the `serverless_function` (a single runtime variant) to invoke."


class InvokeEventField(StringField):
    alias = "event"
    default = "{}"
    help = "The event, as JSON text."


class InvokeExpectField(StringField):
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


class InvokeImageField(StringField):
    alias = "image"
    required = True
    help = help_text(
        """
        Address of the bare `toolchain_image` standing in for the runtime (glibc no newer than
        the runtime's, no -dev packages).
        """
    )


class InvokePythonField(StringField):
    alias = "python"
    required = True
    help = "Address of the `cpython_build` mounted at /var/lang as the runtime's interpreter."


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
    )
    help = help_text(
        """
        `test` runs the packaged function the way Lambda does: in the runtime image with the
        network off, its layers unzipped read-only at /opt, the function at /var/task, the built
        CPython at /var/lang, Lambda's sys.path and LD_LIBRARY_PATH, no GDAL_DATA/PROJ_DATA; the
        result must equal `expect`.
        """
    )
