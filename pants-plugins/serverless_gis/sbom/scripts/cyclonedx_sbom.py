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
  natives         [{address, name, version, license, url, filename, sha256, files}]: native
                  components; `files` are the paths of its install tree (those in the zip are
                  listed as its occurrences)
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
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
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


def native_component(native: dict, in_zip: set[str]) -> Component:
    qualifiers = {"checksum": f"sha256:{native['sha256']}"}
    if native["url"]:
        qualifiers["download_url"] = native["url"]
    source = (
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
    bom_ref = f"native:{native['address']}"
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=bom_ref,
        name=native["name"],
        version=native["version"],
        purl=PackageURL(type="generic", name=native["name"], version=native["version"], qualifiers=qualifiers),
        licenses=licenses(native["license"]),
        # The pinned source the component is built from (no binary of it is downloaded).
        hashes=sha256(native["sha256"]),
        external_references=source,
        evidence=occurrences(bom_ref, [p for p in native["files"] if p in in_zip]),
        properties=properties(target=native["address"], source=native["filename"]),
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
        *(native_component(n, in_zip) for n in job["natives"]),
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
