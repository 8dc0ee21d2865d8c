"""Identity fields of `native_library` (and `cpython_build`) targets: what advisory sources can
match a component by (CPE, upstream repository/tag/commit, Debian source package) and its pedigree
(Debian's patch series, a third party's repackaging, libraries it bundles). Registered as plugin
fields, checked when the BUILD file is parsed; the SBOM records them and the `advisories` goal
asks by them."""

from __future__ import annotations

import re
from typing import Any, Optional

from pants.engine.addresses import Address
from pants.engine.target import DictStringToStringField, Field, InvalidFieldException, InvalidTargetException, StringField, StringSequenceField, Target
from pants.util.frozendict import FrozenDict
from pants.util.strutil import help_text
from serverless_gis.licenses.target_types import spdx_expression_error

# CPE 2.3 vendor and product as NVD spells them: lower case, `_` for spaces.
CPE_PART = r"[a-z0-9][a-z0-9._\-~+]*"
CPE = re.compile(rf"(?P<vendor>{CPE_PART}):(?P<product>{CPE_PART})")
COMMIT = re.compile(r"[0-9a-f]{40}")
DEBIAN_SOURCE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# Debian policy 5.6.12: [epoch:]upstream[-revision]
DEBIAN_VERSION = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*")
PURL = re.compile(r"pkg:[a-z][a-z0-9.+-]*/[^@\s]+@[^\s]+")
CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


def cpe_error(value: str) -> Optional[str]:
    if not CPE.fullmatch(value):
        return f"{value!r} is not `vendor:product` as NVD spells them (lower case, e.g. `haxx:curl`, `osgeo:gdal`)"
    return None


def invalid(address: Address, alias: str, problem: str, fix: str) -> InvalidFieldException:
    return InvalidFieldException(f"{address}: `{alias}` {problem}. Fix: {fix}.")


class NativeCpeField(StringField):
    alias = "cpe"
    help = help_text(
        """
        The component's CPE vendor and product as NVD spells them, `vendor:product`, e.g.
        `osgeo:gdal`: the SBOM's `cpe` (with the target's `version`) and, for a component built
        from its upstream release, what the advisory gate asks the CPE source
        (`[serverless-advisories].cpe_url`) by.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and cpe_error(value):
            raise invalid(address, cls.alias, cpe_error(value), "look the product up in NVD's CPE dictionary and write `vendor:product`")
        return value


class NativeUpstreamField(DictStringToStringField):
    alias = "upstream"
    help = help_text(
        """
        Where the source comes from upstream: `{"repo": "https://github.com/OSGeo/gdal", "tag":
        "v3.13.3", "commit": "<40 hex>"}`. `repo` is required; `commit` (the release tag's commit)
        lets the gate ask OSV by commit. Recorded in the SBOM as a `vcs` reference (and the commit
        as a SWHID).
        """
    )
    KEYS = ("repo", "tag", "commit")

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        unknown = sorted(set(value) - set(cls.KEYS))
        if unknown:
            raise invalid(address, cls.alias, f"has unknown keys {unknown}", f"use only {', '.join(cls.KEYS)}")
        if not re.fullmatch(r"https://[^\s]+", value.get("repo", "")):
            raise invalid(address, cls.alias, f"needs `repo`, an https:// URL (got {value.get('repo')!r})", 'add `"repo": "https://github.com/<owner>/<name>"`')
        if "commit" in value and not COMMIT.fullmatch(value["commit"]):
            raise invalid(
                address, cls.alias, f"`commit` {value['commit']!r} is not a full 40-hex git commit",
                "write the tag's full commit id (`git rev-parse <tag>^{commit}`), or leave `commit` out",
            )
        if "tag" in value and not value["tag"].strip():
            raise invalid(address, cls.alias, "has an empty `tag`", "write the release tag, or leave `tag` out")
        return value


class NativeDebianField(DictStringToStringField):
    alias = "debian"
    help = help_text(
        """
        For a component built from a Debian source package with Debian's patches (source policy
        (a)): `{"source": "curl", "version": "8.14.1-2+deb13u2", "release": "13"}`, the source
        package, its Debian version and the Debian release whose security team fixes it. The gate
        asks OSV by ecosystem `Debian:<release>` and that version; the SBOM records the package as
        the component's pedigree ancestor.
        """
    )
    KEYS = ("source", "version", "release")

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        missing = [k for k in cls.KEYS if not value.get(k)]
        unknown = sorted(set(value) - set(cls.KEYS))
        if missing or unknown:
            raise invalid(
                address, cls.alias, f"must have exactly the keys {', '.join(cls.KEYS)} (missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})",
                'write e.g. `debian={"source": "curl", "version": "8.14.1-2+deb13u2", "release": "13"}`',
            )
        if not DEBIAN_SOURCE.fullmatch(value["source"]):
            raise invalid(address, cls.alias, f"`source` {value['source']!r} is not a Debian source package name", "write the name `apt-cache showsrc` prints after `Package:`")
        if not DEBIAN_VERSION.fullmatch(value["version"]):
            raise invalid(address, cls.alias, f"`version` {value['version']!r} is not a Debian version", "write the `Version:` of the `.dsc`, e.g. `8.14.1-2+deb13u2`")
        if not re.fullmatch(r"[0-9]{2}", value["release"]):
            raise invalid(address, cls.alias, f"`release` {value['release']!r} is not a Debian release number", 'write the major release, e.g. `"13"` for trixie (OSV\'s ecosystem `Debian:13`)')
        return value


class NativeDebianPatchesField(StringSequenceField):
    alias = "debian_patches"
    help = help_text(
        """
        The Debian patch series the source applies (`debian/patches/series`, in order), recorded in
        the SBOM as `pedigree.patches`; a name holding a CVE id records that the patch resolves it.
        Needs `debian`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        for name in value or ():
            if not name or name.startswith("/") or ".." in name.split("/") or " " in name:
                raise invalid(address, cls.alias, f"entry {name!r} is not a path in debian/patches/", "copy the lines of `debian/patches/series` (comments and options removed)")
        return value


class NativeRepackagedFromField(StringField):
    alias = "repackaged_from"
    help = help_text(
        """
        A third party's package the source is taken from instead of an upstream release, as a
        package URL, e.g. `pkg:npm/gdal-async@3.12.3`: the SBOM records it as the component's
        pedigree ancestor, so a reviewer sees the source is not upstream's.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not PURL.fullmatch(value):
            raise invalid(address, cls.alias, f"{value!r} is not a package URL with a version", "write e.g. `pkg:npm/gdal-async@3.12.3`")
        return value


class NativeBundledField(Field):
    """A list of dicts; stored as a tuple of FrozenDicts so targets stay hashable."""

    alias = "bundled"
    help = help_text(
        """
        Libraries the source carries a copy of and builds in (GDAL's internal libgeotiff, PROJ's
        copy of nlohmann/json, ...): `[{"name": "libgeotiff", "version": "1.7.4", "cpe":
        "osgeo:libgeotiff", "path": "frmts/gtiff/libgeotiff"}]` (`cpe`, `path`, `license`
        optional). Each is a nested component in the SBOM; the gate asks the CPE source about those
        with a `cpe`, and counts the others as covered by the parent's advisories (their bugs are
        filed against the project that vendors them).
        """
    )
    KEYS = ("name", "version", "cpe", "path", "license")
    value: Optional[tuple[FrozenDict[str, str], ...]]
    default = None

    @classmethod
    def compute_value(cls, raw_value: Optional[Any], address: Address) -> Optional[tuple[FrozenDict[str, str], ...]]:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        example = '`[{"name": "libgeotiff", "version": "1.7.4", "cpe": "osgeo:libgeotiff"}]`'
        if not isinstance(value, (list, tuple)):
            raise invalid(address, cls.alias, f"must be a list of dicts, got {type(value).__name__}", f"write e.g. {example}")
        entries, names = [], set()
        for i, entry in enumerate(value):
            where = f"entry {i}"
            if not isinstance(entry, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in entry.items()):
                raise invalid(address, cls.alias, f"{where} is not a dict of strings: {entry!r}", f"write e.g. {example}")
            unknown = sorted(set(entry) - set(cls.KEYS))
            missing = [k for k in ("name", "version") if not entry.get(k)]
            if unknown or missing:
                problems = [f"lacks {', '.join(missing)}"] * bool(missing) + [f"has unknown keys {', '.join(unknown)}"] * bool(unknown)
                raise invalid(address, cls.alias, f"{where} ({entry.get('name', '?')}) {' and '.join(problems)}", f"give `name` and `version`, optionally {', '.join(cls.KEYS[2:])}")
            if entry["name"] in names:
                raise invalid(address, cls.alias, f"lists {entry['name']!r} twice", "list each bundled library once")
            names.add(entry["name"])
            if "cpe" in entry and cpe_error(entry["cpe"]):
                raise invalid(address, cls.alias, f"{where} ({entry['name']}): `cpe` {cpe_error(entry['cpe'])}", "write `vendor:product`, or leave `cpe` out")
            if "license" in entry and spdx_expression_error(entry["license"]):
                raise invalid(address, cls.alias, f"{where} ({entry['name']}): `license` {entry['license']!r} is not an SPDX expression", "write SPDX ids, e.g. `MIT`")
            entries.append(FrozenDict(entry))
        return tuple(entries)


IDENTITY_FIELDS = (
    NativeCpeField,
    NativeUpstreamField,
    NativeDebianField,
    NativeDebianPatchesField,
    NativeRepackagedFromField,
    NativeBundledField,
)


def identity_of(tgt: Target) -> dict:
    """The identity fields of a target as JSON-ready data (what the SBOM job carries)."""
    upstream, debian = tgt.get(NativeUpstreamField).value, tgt.get(NativeDebianField).value
    if tgt.get(NativeDebianPatchesField).value and not debian:
        raise InvalidTargetException(
            f"{tgt.address}: `debian_patches` without `debian`. Fix: add `debian={{\"source\": ..., "
            '"version": ..., "release": ...}` naming the package the series comes from, or drop `debian_patches`.'
        )
    return {
        "cpe": tgt.get(NativeCpeField).value,
        "upstream": dict(upstream) if upstream else None,
        "debian": dict(debian) if debian else None,
        "debian_patches": list(tgt.get(NativeDebianPatchesField).value or ()),
        "repackaged_from": tgt.get(NativeRepackagedFromField).value,
        "bundled": [dict(b) for b in tgt.get(NativeBundledField).value or ()],
    }
