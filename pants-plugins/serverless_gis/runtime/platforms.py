"""Complete-platform JSON (the format of `pex3 interpreter inspect --markers --tags`) derived
from a runtime's declared Python version, arch and glibc ceiling, so no runtime image is needed."""

from __future__ import annotations

import json

from packaging.tags import compatible_tags, cpython_tags

# manylinux aliases from PEP 600 and the oldest glibc each arch has wheels for.
_LEGACY_ALIASES = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_OLDEST_GLIBC_MINOR = {"x86_64": 5, "aarch64": 17}


def linux_platform_tags(machine: str, glibc: tuple[int, int]) -> list[str]:
    """Platform tags, most specific first, as pip computes them on such a system."""
    major, ceiling = glibc
    tags = []
    for minor in range(ceiling, _OLDEST_GLIBC_MINOR[machine] - 1, -1):
        tags.append(f"manylinux_{major}_{minor}_{machine}")
        legacy = _LEGACY_ALIASES.get((major, minor))
        if legacy:
            tags.append(f"{legacy}_{machine}")
    tags.append(f"linux_{machine}")
    return tags


def complete_platform(
    *, python_version: tuple[int, int], full_version: str, machine: str, glibc: tuple[int, int]
) -> dict:
    platforms = linux_platform_tags(machine, glibc)
    interpreter = f"cp{python_version[0]}{python_version[1]}"
    tags = [
        *cpython_tags(python_version, abis=[interpreter], platforms=platforms),
        *compatible_tags(python_version, interpreter=interpreter, platforms=platforms),
    ]
    return {
        "marker_environment": {
            "implementation_name": "cpython",
            "implementation_version": full_version,
            "os_name": "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": full_version,
            "python_version": f"{python_version[0]}.{python_version[1]}",
            "sys_platform": "linux",
        },
        "compatible_tags": [str(tag) for tag in tags],
    }


def render(platform: dict) -> bytes:
    return (json.dumps(platform, indent=2, sort_keys=True) + "\n").encode()
