"""The `python_bindings` target: Python extension wheels built from sdists against native libraries."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    InvalidTargetException,
    Dependencies,
    MultipleSourcesField,
    SingleSourceField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.references import RuntimeReferenceField, TargetReferenceField, TargetReferencesField, Variants
from serverless_gis.native.target_types import NativeHardeningAllowancesField, NativePolicyField


class BindingsWheelhouseField(SingleSourceField):
    alias = "wheelhouse"
    required = False
    default = "wheelhouse.lock"
    expected_file_extensions = (".lock",)
    help = help_text(
        """
        JSON lock of every file the build uses (sdists and the wheels of build requirements),
        each with URL, sha256 and size: Pants downloads exactly these, then builds with the
        network off. Regenerate with `build-support/python-build/lock-wheelhouse.py
        wheelhouse.in wheelhouse.lock`.
        """
    )


class BindingsPackagesField(StringSequenceField):
    alias = "packages"
    required = True
    help = help_text(
        """
        Projects built from their sdists in the wheelhouse, e.g. `["shapely", "pyproj"]`; each
        must have the version the runtime's lockfile pins. Layers install these wheels in place
        of the lockfile's.
        """
    )


class BindingsOptimizeForSizeField(StringSequenceField):
    alias = "optimize_for_size"
    default = ()
    help = help_text(
        """
        Projects among `packages` compiled with `-Os` instead of CPython's `-O3`: Cython glue
        around native libraries (the work happens in GDAL/PROJ/GEOS) shrinks by about a third.
        """
    )


class BindingsNativesField(TargetReferencesField):
    alias = "natives"
    expected_alias = "native_library"
    noun = "native library"
    required = True
    variants = Variants.SAME_ARCH
    help = help_text(
        """
        `native_library` targets the extension modules link (with their native dependencies),
        each the variant built for the runtime's arch. Layers using these bindings ship them in
        `lib/`; no wheel carries its own copy.
        """
    )


class BindingsPythonField(TargetReferenceField):
    alias = "python"
    expected_alias = "cpython_build"
    noun = "CPython build"
    required = True
    variants = Variants.SAME_ARCH
    help = help_text(
        """
        Address of the `cpython_build` the wheels are built with (the runtime's CPython: the
        variant built for the runtime's arch).
        """
    )


class BindingsRuntimeField(RuntimeReferenceField):
    help = help_text(
        """
        Address of the `serverless_runtime` the wheels are for: its lockfile fixes the versions,
        and layers use the wheels for this runtime only.
        """
    )


class BindingsPatchesField(MultipleSourcesField):
    alias = "patches"
    default = (
        "patches/*.patch",
        "patches/*.build-constraints.txt",
        "patches/*.build-requires.txt",
        "patches/*.config-settings",
    )
    help = help_text(
        """
        Per-sdist recipe files: `<name>-<version>-*.patch` applied with `patch -p1` to the
        unpacked sdist, `<name>-<version>.build-constraints.txt` pip constraints for its build
        requirements, `<name>-<version>.build-requires.txt` extra build requirements,
        `<name>-<version>.config-settings` pip `--config-settings` values, one per line.
        """
    )


class BindingsHardeningAllowancesField(NativeHardeningAllowancesField):
    help = help_text(
        """
        Reasoned exceptions to the hardening audit of the layers holding these wheels:
        `{"GLOB:PROPERTY": "why"}`, GLOB over the layer's paths (e.g. `python/pyproj/*`), as a
        `native_library`'s `hardening_allowances`. `fortify` is judged per package: one whose
        fortifiable calls all take run-time sizes shows no `__*_chk` even when built with it.
        """
    )


class BindingsDependenciesField(Dependencies):
    help = "Extra dependencies. The targets named by `natives`, `python` and `runtime` are dependencies already."


class PythonBindingsTarget(Target):
    alias = "python_bindings"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        BindingsWheelhouseField,
        BindingsPackagesField,
        BindingsOptimizeForSizeField,
        BindingsNativesField,
        BindingsPythonField,
        BindingsRuntimeField,
        BindingsPatchesField,
        NativePolicyField,
        BindingsHardeningAllowancesField,
        BindingsDependenciesField,
    )

    def validate(self) -> None:
        packages = {canonicalize_name(p) for p in self[BindingsPackagesField].value or ()}
        unbuilt = sorted(
            p for p in self[BindingsOptimizeForSizeField].value or () if canonicalize_name(p) not in packages
        )
        if unbuilt:
            raise InvalidTargetException(
                f"The `python_bindings` target {self.address}: `optimize_for_size` lists {unbuilt}, "
                "which `packages` does not build. Fix: add them to `packages`, or drop them from "
                "`optimize_for_size`."
            )
    help = help_text(
        """
        Wheels of Python bindings (shapely, pyproj, rasterio, fiona, ...) built from sdists in a
        toolchain image, network off, against shared `native_library` outputs: each extension
        module links the layer's one copy of GDAL/PROJ/GEOS in `lib/`. Used by the `bindings`
        field of `serverless_layer`.
        """
    )
