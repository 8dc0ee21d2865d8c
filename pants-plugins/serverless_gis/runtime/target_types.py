"""The `serverless_runtime` target: one deploy platform (provider, Python, CPU arch, limits)."""

from __future__ import annotations

import re
from typing import ClassVar, Optional

from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    IntField,
    InvalidFieldException,
    SingleSourceField,
    StringField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.providers import PROVIDERS
from serverless_gis.references import ArchField

MIB = 1024 * 1024


class VersionField(StringField):
    """A version checked when the target is parsed: it must match `pattern`, like `example`."""

    pattern: ClassVar[str]
    example: ClassVar[str]

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> str:
        value = super().compute_value(raw_value, address)
        if not re.fullmatch(cls.pattern, value):
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {value!r}, not a version like "
                f"`{cls.example}`. Fix: write it as `{cls.example}`."
            )
        return value

    @property
    def major_minor(self) -> tuple[int, int]:
        major, minor = self.value.split(".")[:2]
        return int(major), int(minor)


class RuntimeProviderField(StringField):
    alias = "provider"
    default = "aws"
    valid_choices = tuple(PROVIDERS)
    help = help_text(
        """
        The cloud provider whose function platform this runtime describes; its runtime model
        (`serverless_gis.providers`) gives the layer and task paths, environment and limits.
        """
    )


class RuntimePythonVersionField(VersionField):
    alias = "python_version"
    required = True
    pattern = r"3\.\d+(\.\d+)?"
    example = "3.13"
    help = help_text(
        """
        The runtime's Python, as `3.13` or `3.13.5`. A bare `major.minor` is taken as `.0`
        for the `python_full_version` marker.
        """
    )

    @property
    def full_version(self) -> str:
        parts = self.value.split(".")
        return self.value if len(parts) == 3 else f"{self.value}.0"


class RuntimeArchField(ArchField):
    alias = "arch"
    required = True
    valid_choices = ("x86_64", "arm64")
    help = "CPU architecture of the runtime."

    @property
    def machine(self) -> str:
        """The `platform_machine` value and wheel tag suffix for this arch."""
        return "aarch64" if self.value == "arm64" else "x86_64"


class RuntimeGlibcField(VersionField):
    alias = "glibc"
    required = True
    pattern = r"2\.\d+"
    example = "2.34"
    help = help_text(
        """
        The newest glibc the runtime's OS provides, e.g. `2.34` for Amazon Linux 2023. Wheels
        and native libraries must not need a newer one.
        """
    )



class RuntimeMaxUnzippedMbField(IntField):
    alias = "max_unzipped_mb"
    help = "Limit, in MiB, for the unzipped function plus all its layers. Default: the provider's (AWS Lambda: 250)."


class RuntimeMaxLayersField(IntField):
    alias = "max_layers"
    help = "How many layers one function may use. Default: the provider's (AWS Lambda: 5)."


class RuntimeMaxDirectUploadMbField(IntField):
    alias = "max_direct_upload_mb"
    help = "Largest zip, in MiB, uploaded directly instead of through object storage. Default: the provider's (AWS: 50)."


class RuntimeResolveField(StringField):
    alias = "resolve"
    required = True
    help = help_text(
        """
        The `[python].resolves` entry holding this runtime's lockfile. `./pants
        generate-lockfiles` locks it for exactly this runtime's platform.
        """
    )


class RuntimeCompletePlatformField(SingleSourceField):
    alias = "complete_platform"
    expected_file_extensions = (".json",)
    help = help_text(
        """
        The runtime's complete-platform JSON file (interpreter markers and wheel tags). Write or
        refresh it with `./pants complete-platforms ::`; it is derived from this target's fields.
        """
    )


class ServerlessRuntimeTarget(Target):
    alias = "serverless_runtime"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        RuntimeProviderField,
        RuntimePythonVersionField,
        RuntimeArchField,
        RuntimeGlibcField,
        RuntimeMaxUnzippedMbField,
        RuntimeMaxLayersField,
        RuntimeMaxDirectUploadMbField,
        RuntimeResolveField,
        RuntimeCompletePlatformField,
    )
    help = help_text(
        """
        A serverless deploy platform: provider, Python version, CPU arch, glibc ceiling and size
        limits. Layers and functions name the runtime they are built for.
        """
    )
