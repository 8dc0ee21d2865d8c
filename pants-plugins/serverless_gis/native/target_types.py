"""Targets for hermetic native builds: `toolchain_image` and `native_library`."""

from __future__ import annotations

import datetime
import os
import re
from typing import Optional

from pants.core.target_types import AssetSourceField, http_source
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    DictStringToStringField,
    DictStringToStringSequenceField,
    InvalidFieldException,
    InvalidTargetException,
    SingleSourceField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.identity.source_policy import NativeSourcePolicyField, source_policy_error
from serverless_gis.identity.target_types import NativeDebianField, NativeUpstreamField
from serverless_gis.licenses.target_types import spdx_expression_error
from serverless_gis.references import ArchField, TargetReferenceField
from serverless_gis.runtime.target_types import VersionField


class ToolchainArchField(ArchField):
    alias = "arch"
    default = "x86_64"
    valid_choices = ("x86_64", "arm64")
    help = "CPU architecture of what the image's compilers build and of what runs in it."


# The GNU triple's CPU of each `arch`.
TRIPLE_CPU = {"x86_64": "x86_64", "arm64": "aarch64"}


class ToolchainCrossTripleField(StringField):
    alias = "cross_triple"
    help = help_text(
        """
        For an image whose compilers build for another CPU than the one it runs on: their GNU
        triple, e.g. `aarch64-linux-gnu` (Debian's `crossbuild-essential-arm64`), whose CPU is
        `arch`'s. Builds in it cross-compile: `<triple>-gcc`, a CMake toolchain file, autoconf's
        `--host`, qemu for what a build runs of its own output.
        """
    )


class ToolchainRunImageField(TargetReferenceField):
    alias = "run_image"
    expected_alias = "toolchain_image"
    noun = "toolchain image"
    help = help_text(
        """
        A bare `toolchain_image` of the same `arch` (no compiler or -dev package, glibc no newer
        than the runtime's) in which programs this toolchain builds run with the network off: the
        `smoke_source` programs of native libraries.
        """
    )


class ToolchainLockfileField(SingleSourceField):
    alias = "lockfile"
    required = False
    expected_file_extensions = (".lock",)
    help = help_text(
        """
        The image recipe's lock: Debian suite, every package at its exact version, pinned wheels
        and the build user. The image is built from it with debootstrap (Debian mirror only) and
        tagged by the lock's content hash. Refresh with
        `build-support/docker/refresh-toolchain-lock.sh <recipe>.packages`.
        """
    )


class ToolchainRegistryImageField(StringField):
    alias = "image"

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", value):
            raise InvalidFieldException(
                f"The `image` field of {address} is `{value}`, not pinned by digest. Fix: write "
                "`repo@sha256:<64 hex>` (e.g. from `docker buildx imagetools inspect`)."
            )
        return value
    help = help_text(
        """
        For connected orgs: a registry image pinned by digest, `repo@sha256:<64 hex>`, used instead
        of a `lockfile` recipe. It must have the recipe images' layout (cmake, a compiler, user
        uid 1000 owning /opt, patchelf and pyelftools).
        """
    )


class ToolchainImageTarget(Target):
    alias = "toolchain_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        ToolchainArchField,
        ToolchainCrossTripleField,
        ToolchainLockfileField,
        ToolchainRegistryImageField,
        ToolchainRunImageField,
    )

    def validate(self) -> None:
        triple, arch = self[ToolchainCrossTripleField].value, self[ToolchainArchField].value
        if triple and triple.split("-")[0] != TRIPLE_CPU[arch]:
            raise InvalidTargetException(
                f"The `toolchain_image` target {self.address} has cross_triple={triple!r} but "
                f"arch={arch!r}, whose CPU is {TRIPLE_CPU[arch]}. Fix: set `arch` to the CPU the "
                "cross compilers build for."
            )
        if (self[ToolchainLockfileField].value is None) == (self[ToolchainRegistryImageField].value is None):
            raise InvalidTargetException(
                f"The `toolchain_image` target {self.address} sets "
                f"{'both' if self[ToolchainLockfileField].value else 'neither'} of `lockfile` and "
                "`image`. Fix: give exactly one: a `lockfile` recipe built with debootstrap, or a "
                "registry `image` pinned by digest."
            )

    help = help_text(
        """
        A pinned build (or runtime-emulation) image. Build steps reference it by a tag derived
        from its recipe, so cache keys are the same on every machine and a cache hit needs no
        Docker at all.
        """
    )


class NativeSourceField(AssetSourceField):
    alias = "source"
    required = True
    help = help_text(
        """
        The source archive: `http_source(url, len=..., sha256=...)` for a pinned download, or a
        local archive path relative to this BUILD file.
        """
    )


class NativeDebianSourceField(NativeSourceField):
    alias = "debian_source"
    required = False
    help = help_text(
        """
        The Debian source package's `.debian.tar.*` (`http_source(url, len=..., sha256=...)`, pinned
        from the signed `Sources` index): its `debian/patches/series` is applied, in order, before
        `patches`. It must list the same patches as `debian_patches` (what the SBOM records).
        """
    )


def source_relative_path_error(path: str) -> Optional[str]:
    """Why `path` cannot name a place in an unpacked source tree, or None."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return f"{path!r} is not a relative path without `.`, `..` or empty segments"
    return None


class NativeSourceRootField(StringField):
    alias = "source_root"
    help = help_text(
        """
        The directory inside the archive that holds the project, for archives that bundle several
        (e.g. `deps/libproj/proj` of an npm package), relative to the archive's one top directory
        if it has one. Only that directory is built; the default is the whole archive.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None:
            error = source_relative_path_error(value)
            if error:
                raise InvalidFieldException(f"{address}: `source_root` {error}. Fix: name a directory of the archive, e.g. `deps/libproj/proj`.")
        return value


class NativeBuildFilesField(DictStringToStringField):
    alias = "build_files"
    help = help_text(
        """
        Files a source ships without: its build system (like rules_foreign_cc's `build_file`) or
        a licence text its notices name, as `{path in the source tree: file relative to this BUILD
        file}`, e.g. `{"CMakeLists.txt": "proj.cmake"}`. Copied in before the `patches`; a file the
        source has at that path is replaced.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        for dest in value or {}:
            error = source_relative_path_error(dest)
            if error:
                raise InvalidFieldException(f"{address}: `build_files` key {error}. Fix: key each file by its path in the source tree, e.g. `CMakeLists.txt`.")
        return value


class NativeToolchainField(TargetReferenceField):
    alias = "toolchain"
    expected_alias = "toolchain_image"
    noun = "toolchain image"
    required = True
    help = "Address of the `toolchain_image` the library is built in."


class NativeCMakeOptionsField(StringSequenceField):
    alias = "cmake_options"
    default = ()
    help = "Options for CMake's configure step, e.g. `-DBUILD_TESTING=OFF`."


class NativePatchesField(StringSequenceField):
    alias = "patches"
    default = ()
    help = "Patch files (relative to this BUILD file) applied in order with `patch -p1`."


class NativePolicyField(StringField):
    alias = "policy"
    default = "native/policy/aws-al2023.json"
    help = help_text(
        """
        Runtime policy (path from the build root): the sonames the target runtime provides and
        the highest symbol versions it supports. Other needed libraries are vendored into `lib/`
        under hash-suffixed names with `$ORIGIN` rpaths; symbol versions above the ceiling fail.
        """
    )


class NativeSmokeSourceField(StringField):
    alias = "smoke_source"
    help = help_text(
        """
        A C program (relative to this BUILD file) compiled against the library and run in the
        toolchain's `run_image` with the network off and the install tree at `/opt`; it must
        exit 0.
        """
    )


class NativeSmokeLinkField(StringSequenceField):
    alias = "smoke_link"
    default = ()
    help = "Libraries the smoke program links, e.g. `[\"gdal\"]`."


class NativeVersionField(StringField):
    alias = "version"
    help = help_text(
        """
        The upstream version the `source` holds, e.g. `3.5.7`: what the layer's SBOM and the
        advisory check report for this component.
        """
    )


class NativeLicenseField(StringField):
    alias = "license"
    help = help_text(
        """
        The licence of what the library installs, as an SPDX expression, e.g. `Apache-2.0` or
        `BSD-3-Clause AND IJG`. A layer refuses a component whose licence is missing or not in the
        repository's allow-list (`[serverless-licenses].allowed`) unless the layer opts in.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        error = spdx_expression_error(value) if value is not None else None
        if error:
            raise InvalidFieldException(
                f"{address}: `license` is not an SPDX licence expression ({value!r}: {error}). Fix: "
                "write SPDX ids as https://spdx.org/licenses/ spells them, joined by `AND` / `OR` "
                "(e.g. `BSD-3-Clause AND IJG`), `WITH` for an exception, parentheses to group."
            )
        return value


class NativeLicenseFilesField(StringSequenceField):
    alias = "license_files"
    default = ()
    help = help_text(
        """
        Licence texts and notices in the unpacked source (paths from its top directory), e.g.
        `["LICENSE.md", "README.ijg"]`: installed to `share/licenses/<target name>/`, which layers
        always ship. A missing file fails the build, naming it.
        """
    )


class NativeRuntimeProvidedField(BoolField):
    alias = "runtime_provided"
    default = False
    help = help_text(
        """
        The runtime provides this library (e.g. zlib on AWS Lambda): dependents build and link
        against this tree, layers do not ship it. The build fails if a shared library it installs
        has a soname the `policy` does not allow.
        """
    )


class NativeDependenciesField(Dependencies):
    help = "Other `native_library` targets this one builds against and links."


# ---------------------------------------------------------------------------------------------
# Build systems: one framework (steps/native_build.py), a front end per system
# ---------------------------------------------------------------------------------------------


class NativeBuildSystemField(StringField):
    alias = "build_system"
    default = "cmake"
    valid_choices = ("cmake", "configure_make", "make", "meson")
    help = help_text(
        """
        How the source is configured, built and installed: `cmake` (`cmake_options`),
        `configure_make` (`<configure_command> --prefix=/opt <configure_options>`, then `make` and
        `make install` in the source tree), `make` (a plain Makefile; `make_options` such as
        `VAR=value` go to both make calls, with `PREFIX=/opt`), or `meson` (`meson_options`; the
        toolchain image must have meson and ninja).
        """
    )


class NativeConfigureOptionsField(StringSequenceField):
    alias = "configure_options"
    default = ()
    help = "Arguments of the configure command after `--prefix=/opt` (`build_system='configure_make'`)."


class NativeConfigureCommandField(StringField):
    alias = "configure_command"
    help = help_text(
        """
        The configure script, relative to the source root (`build_system='configure_make'`;
        default `./configure`), e.g. OpenSSL's `./Configure`.
        """
    )


class NativeMakeOptionsField(StringSequenceField):
    alias = "make_options"
    default = ()
    help = "Variables (`VAR=value`) for both make calls (`build_system='make'`)."


class NativeMakeTargetsField(StringSequenceField):
    alias = "make_targets"
    default = ()
    help = "What the build step builds (default: the build system's default target); install follows."


class NativeMesonOptionsField(StringSequenceField):
    alias = "meson_options"
    default = ()
    help = "Options for `meson setup`, e.g. `-Dtests=false` (`build_system='meson'`)."


class NativeExpectedOutputsField(StringSequenceField):
    alias = "expected_outputs"
    default = ()
    help = help_text(
        """
        Paths (globs) in the install tree the build must produce, e.g. `["lib/libgdal.so.36"]`;
        a build that lacks one fails, naming it.
        """
    )


class NativeOptionsByArchField(DictStringToStringSequenceField):
    alias = "options_by_arch"
    help = help_text(
        """
        More options of the build system for one `arch` of the toolchain, after the common ones,
        e.g. `{"x86_64": ["linux-x86_64"], "arm64": ["linux-aarch64"]}` (OpenSSL's target) or
        OpenBLAS's CPU kernels: one target, the same sources, built for every toolchain.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        unknown = sorted(set(value or {}) - set(TRIPLE_CPU))
        if unknown:
            raise InvalidFieldException(
                f"{address}: `options_by_arch` has keys {unknown}, not toolchain arches. Fix: key "
                f"the options by {' or '.join(repr(a) for a in TRIPLE_CPU)}."
            )
        return value


class NativeInstallExcludesField(StringSequenceField):
    alias = "install_excludes"
    default = ()
    help = help_text(
        """
        Globs in the install tree deleted before it is made portable, e.g. `["bin/"]` for tools
        nothing at run time needs (a dependent's build still gets everything else).
        """
    )


HARDENING_PROPERTIES = ("relro", "bind-now", "noexecstack", "stack-protector", "fortify")


class NativeHardeningAllowancesField(DictStringToStringField):
    alias = "hardening_allowances"
    help = help_text(
        f"""
        Reasoned exceptions to the hardening audit: `{{"GLOB:PROPERTY": "why"}}`, GLOB over the
        install tree's paths (e.g. `lib/libfoo.so.*`), PROPERTY one of {", ".join(HARDENING_PROPERTIES)}.
        Every ELF file is built with the framework's hardening flags and audited for them; an
        allowance is for a file that cannot have a property (say, no function with a stack buffer),
        and the reason is the review record.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        for key, reason in (value or {}).items():
            pattern, _, prop = key.rpartition(":")
            if not pattern or prop not in HARDENING_PROPERTIES:
                raise InvalidFieldException(
                    f"{address}: `hardening_allowances` key {key!r} is not GLOB:PROPERTY. Fix: e.g. "
                    f"'lib/libfoo.so.*:fortify', PROPERTY one of {', '.join(HARDENING_PROPERTIES)}."
                )
            if len(reason.split()) < 4:
                raise InvalidFieldException(
                    f"{address}: `hardening_allowances[{key!r}]` gives no reason ({reason!r}). Fix: say "
                    "why the file cannot have the property; a reviewer reads it."
                )
        return value


BUILD_SYSTEM_FIELDS = (
    NativeBuildSystemField,
    NativeConfigureOptionsField,
    NativeConfigureCommandField,
    NativeMakeOptionsField,
    NativeMakeTargetsField,
    NativeMesonOptionsField,
    NativeExpectedOutputsField,
    NativeInstallExcludesField,
    NativeOptionsByArchField,
)
# The option fields each build system reads; setting another system's is an error.
OPTIONS_OF = {
    "cmake": (NativeCMakeOptionsField,),
    "configure_make": (NativeConfigureOptionsField, NativeConfigureCommandField),
    "make": (NativeMakeOptionsField,),
    "meson": (NativeMesonOptionsField,),
}


def validate_build_system(tgt: Target) -> None:
    system = tgt[NativeBuildSystemField].value
    foreign = [
        field.alias
        for other, fields in OPTIONS_OF.items()
        if other != system
        for field in fields
        if tgt[field].value
    ]
    if foreign:
        raise InvalidTargetException(
            f"{tgt.address}: `{', '.join(foreign)}` do not apply to build_system={system!r}. Set "
            f"the build system they belong to, or use {', '.join(f'`{f.alias}`' for f in OPTIONS_OF[system])}."
        )


class NativeLibraryTarget(Target):
    alias = "native_library"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        NativeSourceField,
        NativeSourceRootField,
        NativeBuildFilesField,
        NativeToolchainField,
        NativeCMakeOptionsField,
        NativePatchesField,
        NativeDebianSourceField,
        NativeSourcePolicyField,
        NativeDependenciesField,
        NativePolicyField,
        NativeSmokeSourceField,
        NativeSmokeLinkField,
        NativeVersionField,
        NativeLicenseField,
        NativeLicenseFilesField,
        NativeRuntimeProvidedField,
        NativeHardeningAllowancesField,
        *BUILD_SYSTEM_FIELDS,
    )
    help = help_text(
        """
        A C/C++ library built inside a toolchain image, network off, as a non-root user, installed
        with prefix `/opt` (the Lambda layer mount), by one framework with a front end per build
        system (`build_system`: CMake, configure/make, make, meson). Its output is a portable install
        tree: needed libraries vendored, ELF files stripped and audited against the policy, declared
        `expected_outputs` present.
        """
    )

    def validate(self) -> None:
        validate_build_system(self)
        debian_source = self[NativeDebianSourceField].value
        if debian_source is not None and not self.get(NativeDebianField).value:
            raise InvalidTargetException(
                f"{self.address}: `debian_source` without `debian`. Fix: name the source package it belongs to in `debian`."
            )
        error = source_policy_error(
            self.address,
            self[NativeSourcePolicyField].value,
            version=self[NativeVersionField].value,
            downloaded=isinstance(self[NativeSourceField].value, http_source),
            runtime_provided=self[NativeRuntimeProvidedField].value,
            debian=self.get(NativeDebianField).value,
            debian_source_name=None if debian_source is None else os.path.basename(debian_source.filename or debian_source.url if isinstance(debian_source, http_source) else debian_source),
            upstream=self.get(NativeUpstreamField).value,
            today=datetime.date.today(),
        )
        if error:
            raise InvalidTargetException(error)
        if bool(self[NativeLicenseField].value) != bool(self[NativeLicenseFilesField].value):
            given, missing = (
                ("license", "license_files") if self[NativeLicenseField].value else ("license_files", "license")
            )
            raise InvalidTargetException(
                f"{self.address} sets `{given}` but not `{missing}`. Fix: set both: the SPDX licence "
                "and the source files holding its text and notices (they ship in every layer)."
            )


class CPythonDependenciesField(Dependencies):
    help = "Extra dependencies. The `toolchain` image is a dependency already."


class CPythonPrefixField(StringField):
    alias = "prefix"
    default = "/var/lang"
    help = "Install prefix; AWS Lambda keeps its Python in /var/lang (layers go to /opt)."


class CPythonVersionField(VersionField):
    alias = "python_version"
    required = True
    pattern = r"3\.\d+\.\d+"
    example = "3.13.5"
    help = help_text(
        """
        The version the source builds, e.g. `3.13.5`. Its `major.minor` must equal the
        `python_version` of the runtimes it stands in for (checked for bindings and invoke tests).
        """
    )


class CPythonBuildTarget(Target):
    alias = "cpython_build"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        NativeSourceField,
        NativeToolchainField,
        CPythonVersionField,
        CPythonPrefixField,
        NativePolicyField,
        CPythonDependenciesField,
    )
    help = help_text(
        """
        CPython built from a pinned source in a toolchain image (network off), so wheels and the
        runtime emulation use an interpreter no newer than the runtime's glibc allows.
        """
    )
