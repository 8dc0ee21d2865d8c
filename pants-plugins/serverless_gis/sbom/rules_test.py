"""The CycloneDX SBOMs of a layer and a function, written by the real tool from a zip built by the
real zip step, and checked against the CycloneDX schema by cyclonedx-python-lib's validator."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import uuid
import zipfile

import pytest

from pants.engine.fs import Digest, DigestContents, MergeDigests
from pants.engine.process import FallibleProcessResult
from pants.testutil.rule_runner import QueryRule, RuleRunner
from pants.util.frozendict import FrozenDict
from serverless_gis.artifact import ZipArtifact, ZipArtifactRequest
from serverless_gis.sbom.process import SbomToolRequest
from serverless_gis.sbom.rules import Sbom, SbomRequest
from serverless_gis.sbom.testutil import (
    GEO_WHEEL_SHA256,
    IDENTITY,
    TINYB_COMMIT,
    LAYER,
    PYTHON,
    SIX_SHA256,
    SIX_URL,
    TINYA_SHA256,
    TINYA_URL,
    TINYB_ARCHIVE,
    digest,
    layer_sbom,
    sbom_rule_runner,
)
from pants.engine.addresses import Address

SERIALS = uuid.uuid5(uuid.NAMESPACE_URL, "serverless-gis/sbom")


@pytest.fixture(scope="module")
def rule_runner() -> RuleRunner:
    return sbom_rule_runner(
        QueryRule(FallibleProcessResult, [SbomToolRequest]),
        QueryRule(DigestContents, [Digest]),
        QueryRule(Digest, [MergeDigests]),
        identity=IDENTITY,
    )


def document(rule_runner: RuleRunner, sbom: Sbom) -> dict:
    [content] = rule_runner.request(DigestContents, [sbom.digest])
    assert content.path == sbom.path
    return json.loads(content.content)


def by_ref(doc: dict) -> dict[str, dict]:
    return {c["bom-ref"]: c for c in doc["components"]}


def test_layer_sbom_lists_natives_and_distributions(rule_runner: RuleRunner) -> None:
    artifact, sbom = layer_sbom(rule_runner)
    assert sbom.path == "layers/geo-x86_64.cdx.json" and artifact.path == "layers/geo-x86_64.zip"
    doc = document(rule_runner, sbom)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert doc["serialNumber"] == sbom.serial and doc["metadata"]["timestamp"].startswith("1980-01-01T00:00:00")
    root = doc["metadata"]["component"]
    assert root["name"] == "geo-x86_64" and root["bom-ref"] == sbom.bom_ref == "geo-x86_64"
    assert root["hashes"] == [{"alg": "SHA-256", "content": artifact.sha256}]
    assert {"name": "serverless-gis:target", "value": "layers:geo"} in root["properties"]

    components = by_ref(doc)
    assert sorted(components) == [
        "native:native:tinya", "native:native:tinyb", "pkg:pypi/geo@1.0", "pkg:pypi/six@1.17.0"
    ]
    tinya = components["native:native:tinya"]
    assert (tinya["name"], tinya["version"]) == ("tinya", "1.2.3")
    assert tinya["purl"] == f"pkg:generic/tinya@1.2.3?checksum=sha256:{TINYA_SHA256}&download_url={TINYA_URL}"
    assert tinya["licenses"] == [{"license": {"id": "MIT"}}]
    assert tinya["hashes"] == [{"alg": "SHA-256", "content": TINYA_SHA256}]
    assert tinya["externalReferences"] == [
        {"type": "source-distribution", "url": TINYA_URL, "hashes": [{"alg": "SHA-256", "content": TINYA_SHA256}]},
        {"type": "vcs", "url": "https://example.org/tinya", "comment": "tag v1.2.3"},
    ]
    # What it put in the layer: its library and licence text; its header and -config script were pruned.
    assert [o["location"] for o in tinya["evidence"]["occurrences"]] == [
        "lib/libtinya.so.1", "share/licenses/tinya/LICENSE"
    ]

    tinyb = components["native:native:tinyb"]
    assert tinyb["licenses"] == [{"expression": "BSD-3-Clause AND MIT"}]
    # A local source archive: its own sha256, no download URL.
    assert tinyb["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(TINYB_ARCHIVE).hexdigest()}]
    assert [r["type"] for r in tinyb["externalReferences"]] == ["vcs"] and "download_url" not in tinyb["purl"]
    assert [o["location"] for o in tinyb["evidence"]["occurrences"]] == ["lib/libtinyb.so", "share/licenses/tinyb/COPYING"]

    six = components["pkg:pypi/six@1.17.0"]
    # The lockfile's wheel (its tags match the installed WHEEL), not the sdist.
    assert six["hashes"] == [{"alg": "SHA-256", "content": SIX_SHA256}]
    assert six["externalReferences"][0]["url"] == SIX_URL
    assert six["licenses"] == [{"license": {"id": "MIT"}}]
    assert [o["location"] for o in six["evidence"]["occurrences"]] == ["python/six-1.17.0.dist-info/", "python/six.py"]

    geo = components["pkg:pypi/geo@1.0"]
    assert geo["hashes"] == [{"alg": "SHA-256", "content": GEO_WHEEL_SHA256}]
    assert {"name": "serverless-gis:built_from_source", "value": "true"} in geo["properties"]
    assert geo["licenses"] == [{"license": {"id": "Apache-2.0"}}]

    [root_deps] = [d for d in doc["dependencies"] if d["ref"] == root["bom-ref"]]
    assert sorted(root_deps["dependsOn"]) == sorted(components)


def test_natives_carry_their_identity_and_pedigree(rule_runner: RuleRunner) -> None:
    components = by_ref(document(rule_runner, layer_sbom(rule_runner)[1]))
    tinya, tinyb = components["native:native:tinya"], components["native:native:tinyb"]

    # Policy (a): the CPE, the Debian source package as the ancestor, Debian's series as patches.
    assert tinya["cpe"] == "cpe:2.3:a:tiny:tinya:1.2.3:*:*:*:*:*:*:*"
    [debian] = tinya["pedigree"]["ancestors"]
    assert debian["purl"] == "pkg:deb/debian/tinya@1.2.3-1%2Bdeb13u1?arch=source&distro=debian-13"
    assert [(p["type"], p["diff"]["url"], [r["id"] for r in p.get("resolves", ())]) for p in tinya["pedigree"]["patches"]] == [
        ("backport", "https://sources.debian.org/src/tinya/1.2.3-1+deb13u1/debian/patches/CVE-2026-0001.patch/", ["CVE-2026-0001"]),
        ("backport", "https://sources.debian.org/src/tinya/1.2.3-1+deb13u1/debian/patches/fix-build.patch/", []),
    ]
    props = {p["name"]: p["value"] for p in tinya["properties"]}
    assert (props["serverless-gis:debian_ecosystem"], props["serverless-gis:debian_source"], props["serverless-gis:debian_version"]) == (
        "Debian:13", "tinya", "1.2.3-1+deb13u1"
    )

    # Policy (b): upstream repository, tag and commit (also as a SWHID), the repackaging as the
    # ancestor, the repository's patch file, and the bundled libraries as nested components.
    assert tinyb["cpe"] == "cpe:2.3:a:tiny:tinyb:2.0.0:*:*:*:*:*:*:*"
    assert tinyb["externalReferences"] == [
        {"type": "vcs", "url": "https://example.org/tinyb", "comment": f"tag v2.0.0, commit {TINYB_COMMIT}"}
    ]
    assert tinyb["swhid"] == [f"swh:1:rev:{TINYB_COMMIT}"]
    assert [a["purl"] for a in tinyb["pedigree"]["ancestors"]] == ["pkg:npm/tinyb-bundle@2.0.0"]
    [patch] = tinyb["pedigree"]["patches"]
    assert (patch["type"], patch["diff"]["url"], patch["resolves"][0]["id"]) == ("unofficial", "native/fix-CVE-2026-0002.patch", "CVE-2026-0002")
    nested = {c["name"]: c for c in tinyb["components"]}
    assert nested["minijson"]["cpe"] == "cpe:2.3:a:nlohmann:json:3.11.3:*:*:*:*:*:*:*"
    assert nested["minijson"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert "cpe" not in nested["libcsf"] and {"name": "serverless-gis:path", "value": "src/csf"} in nested["libcsf"]["properties"]
    assert nested["libcsf"]["bom-ref"] == "native:native:tinyb/libcsf"


def test_serial_is_derived_from_the_content(rule_runner: RuleRunner) -> None:
    _, sbom = layer_sbom(rule_runner)
    [content] = rule_runner.request(DigestContents, [sbom.digest])
    text = content.content.decode()
    draft = text.replace(sbom.serial, f"urn:uuid:{uuid.UUID(int=0)}")
    assert sbom.serial == f"urn:uuid:{uuid.uuid5(SERIALS, hashlib.sha256(draft.encode()).hexdigest())}"
    # Another zip (one file changed): another serial.
    _, other = layer_sbom(rule_runner, six_source="import os\n")
    assert other.serial != sbom.serial


def run_tool(
    rule_runner: RuleRunner, *argv: str, files: dict[str, bytes], extra: Digest | None = None, seed: str = "0"
) -> FallibleProcessResult:
    inputs = digest(rule_runner, files)
    if extra is not None:
        inputs = rule_runner.request(Digest, [MergeDigests([inputs, extra])])
    # Another hash seed is another process (no cache hit) whose set and dict orders differ.
    request = SbomToolRequest(argv, inputs, description="run", output_files=("out.cdx.json",), extra_env=FrozenDict({"PYTHONHASHSEED": seed}))
    return rule_runner.request(FallibleProcessResult, [request])


def test_the_same_inputs_give_the_same_bytes_in_every_process(rule_runner: RuleRunner) -> None:
    artifact, _ = layer_sbom(rule_runner)
    [zipped] = rule_runner.request(DigestContents, [artifact.digest])
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    job = {
        "kind": "layer", "target": "layers:geo", "name": "geo-x86_64", "zip": artifact.path, "sha256": artifact.sha256,
        "out": "out.cdx.json", "runtime": "test", "python_prefix": "python/", "dist_paths": {}, "locked": {}, "built": {},
        "layers": [],
        # One component claiming every file: many occurrences, whose order must not vary.
        "natives": [
            {"address": "native:all", "name": "all", "version": "1", "license": "MIT", "url": None,
             "filename": "all.tar.gz", "sha256": "0" * 64, "files": names}
        ],
    }
    outputs = []
    for seed in ("1", "2", "3"):
        result = run_tool(rule_runner, "sbom", "job.json", files={"job.json": json.dumps(job).encode()}, extra=artifact.digest, seed=seed)
        assert result.exit_code == 0, result.stderr.decode()
        [out] = rule_runner.request(DigestContents, [result.output_digest])
        outputs.append(out.content)
    assert len(names) >= 8 and outputs[0] == outputs[1] == outputs[2]


def test_the_schema_validator_accepts_ours_and_rejects_a_broken_document(rule_runner: RuleRunner) -> None:
    _, sbom = layer_sbom(rule_runner)
    doc = document(rule_runner, sbom)
    ok = run_tool(rule_runner, "validate", sbom.path, files={}, extra=sbom.digest)
    assert ok.exit_code == 0, ok.stderr.decode()
    doc["components"][0]["type"] = "gizmo"
    broken = run_tool(rule_runner, "validate", "broken.json", files={"broken.json": json.dumps(doc).encode()})
    assert broken.exit_code == 1
    assert "broken.json is not a valid CycloneDX 1.6 document" in broken.stderr.decode()
    assert "gizmo" in broken.stderr.decode()


def function_sbom(rule_runner: RuleRunner, layers: tuple[Sbom, ...]) -> Sbom:
    tree = digest(
        rule_runner,
        {
            "__function/handler.py": b"def handler(event, context):\n    return event\n",
            "__function/six.py": b"",
            "__function/six-1.17.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: six\nVersion: 1.17.0\n\n",
            "__function/six-1.17.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
        },
    )
    artifact = rule_runner.request(
        ZipArtifact,
        [
            ZipArtifactRequest(
                tree=tree, src="__function", prefix="", mount="/var/task", prune=(), bytecode="none",
                output_path="functions/fn/fn-x86_64.zip", interpreter_constraint=PYTHON, description="Zip fn",
            )
        ],
    )
    return rule_runner.request(
        Sbom,
        [
            SbomRequest(
                owner=Address("functions/fn", target_name="fn"), kind="function", artifact=artifact,
                runtime="AWS Lambda Python 3.13 x86_64", resolve="x86_64", python_prefix="", layers=layers,
            )
        ],
    )


def test_function_sbom_lists_its_zip_and_refers_to_its_layers(rule_runner: RuleRunner) -> None:
    _, layer = layer_sbom(rule_runner)
    sbom = function_sbom(rule_runner, (layer,))
    doc = document(rule_runner, sbom)
    assert sbom.path == "functions/fn/fn-x86_64.cdx.json"
    assert doc["metadata"]["component"]["type"] == "application"
    components = by_ref(doc)
    assert sorted(components) == ["layer:layers:geo", "pkg:pypi/six@1.17.0"]
    assert components["pkg:pypi/six@1.17.0"]["hashes"] == [{"alg": "SHA-256", "content": SIX_SHA256}]
    mounted = components["layer:layers:geo"]
    assert mounted["hashes"] == [{"alg": "SHA-256", "content": layer.sha256}]
    serial = layer.serial[len("urn:uuid:"):]
    assert mounted["externalReferences"] == [
        {"type": "bom", "url": f"urn:cdx:{serial}/1#geo-x86_64", "comment": "layers/geo-x86_64.cdx.json"}
    ]
    assert {"name": "serverless-gis:target", "value": str(LAYER)} in mounted["properties"]


def test_layers_with_the_same_zip_name_get_distinct_references(rule_runner: RuleRunner) -> None:
    # Two teams may both name a layer `geo`: the references must not collide, since cyclonedx-python-lib
    # would then make one up at random and the bytes would change from run to run.
    _, layer = layer_sbom(rule_runner)
    other = dataclasses.replace(layer, owner=Address("team/maps", target_name="geo"), path="team/maps/geo-x86_64.cdx.json")
    doc = document(rule_runner, function_sbom(rule_runner, (layer, other)))
    assert sorted(c["bom-ref"] for c in doc["components"]) == ["layer:layers:geo", "layer:team/maps:geo", "pkg:pypi/six@1.17.0"]
