"""A layer's or function's CycloneDX JSON SBOM, written with cyclonedx-python-lib and checked
against the CycloneDX schema before it is written.

Deterministic: components are sorted (the library keeps them in sorted sets), the timestamp is
fixed and the serial number is a UUIDv5 of the document's own bytes, so the same zip and inputs
give the same file on any machine.

Job (JSON, written by serverless_gis/sbom/rules.py):
  kind            "layer" or "function"
  target, name    the target's address; the zip's name without `.zip` (the root component)
  zip, sha256     the zip in the sandbox and its sha256
  out             where to write the SBOM
  runtime         the runtime's description (a property)
  python_prefix   where distributions sit in the zip (`python/` in a layer, `` in a function)
  natives         [{address, name, version, license, url, filename, sha256, files, patches,
                  identity}]: native components; `files` are the paths of its install tree (those
                  in the zip are listed as its occurrences), `patches` the repository's patch
                  files it applies, `identity` its identity fields (serverless_gis/identity):
                  {cpe, upstream, debian, debian_patches, repackaged_from, bundled}
  dist_paths      {canonical name: [zip paths]}: the top-level paths each distribution owns
  locked          {canonical name: [{url, sha256}]}: the lockfile's artifacts of each distribution
  built           {canonical name: {filename, sha256}}: wheels built from source for the zip
  layers          [{target, name, zip, sha256, serial, bom_ref, sbom}]: layers a function mounts
                  (`sbom`: the layer SBOM's path in dist/)
"""

from __future__ import annotations

import email.parser
import hashlib
import re
import uuid
import zipfile
from datetime import datetime, timezone
from urllib.parse import quote

from cyclonedx.builder.this import this_component as cyclonedx_lib_component
from cyclonedx.factory.license import LicenseFactory
from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Diff, Patch, PatchClassification, Pedigree, Swhid
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.issue import IssueClassification, IssueType, IssueTypeSource
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

SCHEMA = SchemaVersion.V1_6
SCHEMA_NAME = "1.6"
# No build time in the document: the zips' entries carry this date too.
TIMESTAMP = datetime(1980, 1, 1, tzinfo=timezone.utc)
SERIALS = uuid.uuid5(uuid.NAMESPACE_URL, "serverless-gis/sbom")
PROPERTY = "serverless-gis:"
LICENSES = LicenseFactory()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(value: str) -> list[HashType]:
    return [HashType(alg=HashAlgorithm.SHA_256, content=value)]


def properties(**values: str | None) -> list[Property]:
    return [Property(name=PROPERTY + key, value=value) for key, value in values.items() if value]


def licenses(expression: str | None) -> list:
    return [LICENSES.make_from_string(expression)] if expression else []


def occurrences(owner: str, paths: list[str]) -> ComponentEvidence | None:
    """Where a component's files are in the zip. Each occurrence gets a bom-ref (`<owner>:<path>`):
    the library orders occurrences without one by object identity, so the bytes would vary."""
    return (
        ComponentEvidence(occurrences=[Occurrence(bom_ref=f"{owner}:{p}", location=p) for p in sorted(paths)])
        if paths
        else None
    )


# ---------------------------------------------------------------------------------------------
# Native components
# ---------------------------------------------------------------------------------------------


CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


def cpe23(vendor_product: str, version: str | None) -> str:
    """A CPE 2.3 formatted string; characters other than alphanumerics, `_`, `.` and `-` are
    quoted with a backslash (NISTIR 7695 6.2)."""
    quoted = [re.sub(r"([^A-Za-z0-9._-])", r"\\\1", part) for part in (*vendor_product.split(":"), version or "*")]
    return "cpe:2.3:a:" + ":".join(quoted) + ":*:*:*:*:*:*:*"


def resolved(name: str) -> list[IssueType]:
    """The CVEs a patch's file name says it fixes (Debian names security patches after them)."""
    ids = sorted({m.upper() for m in CVE.findall(name)})
    return [
        IssueType(
            type=IssueClassification.SECURITY,
            id=i,
            source=IssueTypeSource(name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{i}")),
        )
        for i in ids
    ]


def pedigree(native: dict, bom_ref: str) -> Pedigree | None:
    """Where the source deviates from upstream's release: the Debian source package or a third
    party's repackaging it comes from (ancestors) and the patches applied to it."""
    identity = native["identity"]
    ancestors, patches, notes = [], [], []
    debian = identity["debian"]
    if debian:
        ancestors.append(
            Component(
                bom_ref=f"{bom_ref}#debian",
                name=debian["source"],
                version=debian["version"],
                purl=PackageURL(
                    type="deb", namespace="debian", name=debian["source"], version=debian["version"],
                    qualifiers={"arch": "source", "distro": f"debian-{debian['release']}"},
                ),
            )
        )
        for name in identity["debian_patches"]:
            url = f"https://sources.debian.org/src/{debian['source']}/{debian['version']}/debian/patches/{name}/"
            patches.append(Patch(type=PatchClassification.BACKPORT, diff=Diff(url=XsUri(url)), resolves=resolved(name)))
        notes.append(
            f"Debian source package {debian['source']} {debian['version']} (Debian {debian['release']}): the upstream "
            f"source with Debian's patch series"
            + ("." if identity["debian_patches"] else " (not listed: the target sets no `debian_patches`).")
        )
    if identity["repackaged_from"]:
        repackaged = PackageURL.from_string(identity["repackaged_from"])
        ancestors.append(Component(bom_ref=f"{bom_ref}#repackaged", name=repackaged.name, version=repackaged.version, purl=repackaged))
        notes.append(f"Source taken from a third party's repackaging, {identity['repackaged_from']}, not an upstream release.")
    for path in native["patches"]:
        patches.append(Patch(type=PatchClassification.UNOFFICIAL, diff=Diff(url=XsUri(path)), resolves=resolved(path)))
    if not (ancestors or patches):
        return None
    return Pedigree(ancestors=ancestors, patches=patches, notes=" ".join(notes) or None)


def bundled_component(native: dict, parent_ref: str, lib: dict) -> Component:
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=f"{parent_ref}/{lib['name']}",
        name=lib["name"],
        version=lib["version"],
        cpe=cpe23(lib["cpe"], lib["version"]) if lib.get("cpe") else None,
        licenses=licenses(lib.get("license")),
        properties=properties(bundled_in=native["address"], path=lib.get("path")),
    )


NO_IDENTITY = {"cpe": None, "upstream": None, "debian": None, "debian_patches": [], "repackaged_from": None, "bundled": []}


def native_component(native: dict, in_zip: set[str], bundle: dict | None = None) -> Component:
    native = {"patches": [], "debian_source": None, **native, "identity": {**NO_IDENTITY, **(native.get("identity") or {})}}
    identity = native["identity"]
    qualifiers = {"checksum": f"sha256:{native['sha256']}"}
    if native["url"]:
        qualifiers["download_url"] = native["url"]
    refs = (
        [
            ExternalReference(
                type=ExternalReferenceType.SOURCE_DISTRIBUTION,
                url=XsUri(native["url"]),
                hashes=sha256(native["sha256"]),
            )
        ]
        if native["url"]
        else []
    )
    if native["debian_source"]:
        refs.append(
            ExternalReference(
                type=ExternalReferenceType.SOURCE_DISTRIBUTION,
                url=XsUri(native["debian_source"]["url"]),
                hashes=sha256(native["debian_source"]["sha256"]),
                comment="Debian's packaging: its patch series was applied before the build",
            )
        )
    if bundle and native["address"] in bundle["components"]:
        # Relative to the SBOM: the tar beside the zip (licences/source_bundle.py).
        refs.append(
            ExternalReference(
                type=ExternalReferenceType.SOURCE_DISTRIBUTION,
                url=XsUri(bundle["file"]),
                hashes=sha256(bundle["sha256"]),
                comment="corresponding source distributed with this zip: sources, patches, build recipe and scripts",
            )
        )
    upstream = identity["upstream"] or {}
    if upstream:
        described = ", ".join(f"{k} {upstream[k]}" for k in ("tag", "commit") if upstream.get(k))
        refs.append(ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(upstream["repo"]), comment=described or None))
    debian = identity["debian"] or {}
    bom_ref = f"native:{native['address']}"
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=bom_ref,
        name=native["name"],
        version=native["version"],
        purl=PackageURL(type="generic", name=native["name"], version=native["version"], qualifiers=qualifiers),
        cpe=cpe23(identity["cpe"], native["version"]) if identity["cpe"] else None,
        licenses=licenses(native["license"]),
        # The pinned source the component is built from (no binary of it is downloaded).
        hashes=sha256(native["sha256"]),
        external_references=refs,
        swhids=[Swhid(f"swh:1:rev:{upstream['commit']}")] if upstream.get("commit") else None,
        pedigree=pedigree(native, bom_ref),
        components=[bundled_component(native, bom_ref, lib) for lib in identity["bundled"]],
        evidence=occurrences(bom_ref, [p for p in native["files"] if p in in_zip]),
        # What the advisory gate asks by (serverless_gis/sbom/scripts/osv_advisories.py).
        properties=properties(
            target=native["address"],
            source=native["filename"],
            upstream_tag=upstream.get("tag"),
            upstream_commit=upstream.get("commit"),
            debian_source=debian.get("source"),
            debian_version=debian.get("version"),
            debian_ecosystem=f"Debian:{debian['release']}" if debian else None,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Python distributions
# ---------------------------------------------------------------------------------------------


def wheel_tags(filename: str) -> set[str]:
    """`cp313-cp313-manylinux_2_17_x86_64` etc. of a wheel file name (compressed tag sets expanded)."""
    py, abi, plat = filename[: -len(".whl")].split("-")[-3:]
    return {f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split(".")}


def read_distributions(zf: zipfile.ZipFile, prefix: str) -> list[dict]:
    names = set(zf.namelist())
    found = []
    for path in sorted(names):
        match = re.fullmatch(re.escape(prefix) + r"([^/]+\.dist-info)/METADATA", path)
        if not match:
            continue
        dist_info = prefix + match.group(1) + "/"
        meta = email.parser.Parser().parsestr(zf.read(path).decode("utf-8", "replace"), headersonly=True)
        wheel = zf.read(dist_info + "WHEEL").decode() if dist_info + "WHEEL" in names else ""
        found.append(
            {
                "name": meta["Name"],
                "version": meta["Version"],
                # PEP 639's SPDX expression, or a one-line `License` (longer ones are licence texts).
                "license": meta.get("License-Expression")
                or (meta["License"] if meta.get("License") and len(meta["License"]) < 80 and "\n" not in meta["License"] else None),
                "tags": set(re.findall(r"^Tag: (\S+)$", wheel, re.MULTILINE)),
                "dist_info": dist_info,
            }
        )
    return found


def installed_artifact(dist: dict, locked: list[dict]) -> dict | None:
    """The locked file pex installed: the wheel whose tags the installed WHEEL lists, or the sdist
    (built by pex) when no locked wheel matches."""
    wheels = [a for a in locked if a["url"].endswith(".whl") and wheel_tags(a["url"].rsplit("/", 1)[-1]) & dist["tags"]]
    sdists = [a for a in locked if not a["url"].endswith(".whl")]
    chosen = wheels if wheels else sdists
    return chosen[0] if len(chosen) == 1 else None


def python_component(dist: dict, job: dict) -> Component:
    key = canonical(dist["name"])
    built = job["built"].get(key)
    artifact = (
        {"url": None, "sha256": built["sha256"], "filename": built["filename"]}
        if built
        else installed_artifact(dist, job["locked"].get(key, []))
    )
    purl = PackageURL(type="pypi", name=key, version=dist["version"])
    refs = []
    if artifact and artifact["url"]:
        refs.append(
            ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(artifact["url"]), hashes=sha256(artifact["sha256"]))
        )
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=purl.to_string(),
        name=dist["name"],
        version=dist["version"],
        purl=purl,
        licenses=licenses(dist["license"]),
        hashes=sha256(artifact["sha256"]) if artifact else [],
        external_references=refs,
        evidence=occurrences(purl.to_string(), sorted({dist["dist_info"], *job["dist_paths"].get(key, ())})),
        properties=properties(
            artifact=(artifact.get("filename") or artifact["url"].rsplit("/", 1)[-1]) if artifact else None,
            built_from_source="true" if built else None,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Layers a function mounts
# ---------------------------------------------------------------------------------------------


def layer_component(layer: dict) -> Component:
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=f"layer:{layer['target']}",
        name=layer["name"],
        hashes=sha256(layer["sha256"]),
        external_references=[
            ExternalReference(
                type=ExternalReferenceType.BOM,
                url=XsUri(f"urn:cdx:{layer['serial']}/1#{quote(layer['bom_ref'], safe='')}"),
                comment=layer["sbom"],
            )
        ],
        properties=properties(target=layer["target"], zip=layer["zip"]),
    )


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------


def build(job: dict) -> Bom:
    with zipfile.ZipFile(job["zip"]) as zf:
        in_zip = set(zf.namelist())
        dists = read_distributions(zf, job["python_prefix"])
    root = Component(
        type=ComponentType.APPLICATION if job["kind"] == "function" else ComponentType.LIBRARY,
        bom_ref=job["name"],
        name=job["name"],
        hashes=sha256(job["sha256"]),
        properties=properties(kind=job["kind"], target=job["target"], runtime=job["runtime"], zip=job["zip"]),
    )
    bom = Bom()
    bom.metadata.timestamp = TIMESTAMP
    bom.metadata.component = root
    bom.metadata.tools.components.add(cyclonedx_lib_component())
    components = [
        *(native_component(n, in_zip, job.get("source_bundle")) for n in job["natives"]),
        *(python_component(d, job) for d in dists),
        *(layer_component(layer) for layer in job["layers"]),
    ]
    refs = [c.bom_ref.value for c in components]
    repeated = sorted({r for r in refs if refs.count(r) > 1})
    if repeated:
        # cyclonedx-python-lib would replace a repeated reference with a random one: different bytes every run.
        raise SystemExit(f"SBOM of {job['target']}: components share a bom-ref: {', '.join(repeated)}")
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    for component in components:
        if component.components:
            # What a native bundles is part of it: its nested components are its dependencies.
            bom.register_dependency(component, component.components)
    return bom


def render(bom: Bom) -> str:
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def validation_error(document: str) -> str | None:
    """The first schema violation (where and what), or None."""
    error = JsonStrictValidator(SCHEMA).validate_str(document)
    if error is None:
        return None
    where = "/".join(str(p) for p in getattr(error.data, "absolute_path", ()))
    return f"{where or 'the document'}: {getattr(error.data, 'message', error)}"


def write(job: dict) -> None:
    bom = build(job)
    bom.serial_number = uuid.UUID(int=0)
    draft = render(bom)
    bom.serial_number = uuid.uuid5(SERIALS, hashlib.sha256(draft.encode()).hexdigest())
    document = render(bom)
    error = validation_error(document)
    if error:
        raise SystemExit(f"the SBOM of {job['target']} is not valid CycloneDX {SCHEMA_NAME}: {error}")
    with open(job["out"], "w") as f:
        f.write(document)
