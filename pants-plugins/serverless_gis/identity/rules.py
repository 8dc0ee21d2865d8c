"""Registers the identity fields on the targets that build shipped native code."""

from serverless_gis.identity.target_types import IDENTITY_FIELDS
from serverless_gis.native.target_types import CPythonBuildTarget, NativeLibraryTarget


def rules():
    return [
        *(target.register_plugin_field(field) for target in (NativeLibraryTarget, CPythonBuildTarget) for field in IDENTITY_FIELDS)
    ]
