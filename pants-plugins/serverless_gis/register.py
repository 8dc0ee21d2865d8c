"""Serverless GIS ruleset: runtimes, per-platform lockfiles, layers, functions, native builds."""

from serverless_gis import artifact, compatibility, lock_slice, python_lock, references
from serverless_gis.advisories import rules as advisories_rules
from serverless_gis.bindings import rules as bindings_rules
from serverless_gis.bindings.target_types import PythonBindingsTarget
from serverless_gis.emulation import rules as emulation_rules
from serverless_gis.emulation.target_types import ServerlessInvokeTestTarget
from serverless_gis.function import requirements as function_requirements
from serverless_gis.function import rules as function_rules
from serverless_gis.function.target_types import ServerlessFunctionTarget
from serverless_gis.identity import rules as identity_rules
from serverless_gis.layer import rules as layer_rules
from serverless_gis.layer.target_types import ServerlessLayerTarget
from serverless_gis.licenses import rules as licenses_rules
from serverless_gis.licenses import source_bundle
from serverless_gis.native import cpython as native_cpython
from serverless_gis.native import rules as native_rules
from serverless_gis.native.target_types import CPythonBuildTarget, NativeLibraryTarget, ToolchainImageTarget
from serverless_gis.publish import rules as publish_rules
from serverless_gis.runtime import lockfiles as runtime_lockfiles
from serverless_gis.runtime import rules as runtime_rules
from serverless_gis.runtime.target_types import ServerlessRuntimeTarget
from serverless_gis.sbom import rules as sbom_rules


def rules():
    return [
        *artifact.rules(),
        *python_lock.rules(),
        *lock_slice.rules(),
        *references.rules(),
        *compatibility.rules(),
        *runtime_rules.rules(),
        *runtime_lockfiles.rules(),
        *layer_rules.rules(),
        *function_rules.rules(),
        *function_requirements.rules(),
        *native_rules.rules(),
        *native_cpython.rules(),
        *bindings_rules.rules(),
        *emulation_rules.rules(),
        *publish_rules.rules(),
        *licenses_rules.rules(),
        *source_bundle.rules(),
        *sbom_rules.rules(),
        *identity_rules.rules(),
        *advisories_rules.rules(),
    ]


def target_types():
    return [
        ServerlessRuntimeTarget,
        ServerlessLayerTarget,
        ServerlessFunctionTarget,
        ToolchainImageTarget,
        NativeLibraryTarget,
        CPythonBuildTarget,
        PythonBindingsTarget,
        ServerlessInvokeTestTarget,
    ]
