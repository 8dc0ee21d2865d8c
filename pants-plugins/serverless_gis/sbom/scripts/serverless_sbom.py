"""The `[serverless-sbom]` tool's commands, each run by the ruleset as a Pants process in the tool's
venv (cyclonedx-python-lib, license-expression, packageurl-python).

  serverless_sbom.py licenses JOB.json OUT.json    evaluate SPDX expressions against an allow-list
  serverless_sbom.py sbom JOB.json                 write a zip's CycloneDX JSON SBOM, schema-checked
  serverless_sbom.py validate SBOM.json            check a CycloneDX JSON document against the schema
  serverless_sbom.py advisories JOB.json OUT.json  query an OSV-compatible service for SBOM components
  serverless_sbom.py source-bundle JOB.json        a deterministic tar of a layer's corresponding source

Exit status 0 when the command did its work (a verdict or report says what it found), 1 with a
message on stderr otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> None:
    parser = argparse.ArgumentParser(prog="serverless_sbom")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("licenses", "advisories"):
        sub = commands.add_parser(name)
        sub.add_argument("job")
        sub.add_argument("out")
    commands.add_parser("sbom").add_argument("job")
    commands.add_parser("source-bundle").add_argument("job")
    commands.add_parser("validate").add_argument("sbom")
    args = parser.parse_args()

    if args.command == "validate":
        import cyclonedx_sbom

        with open(args.sbom) as f:
            error = cyclonedx_sbom.validation_error(f.read())
        if error:
            sys.exit(f"{args.sbom} is not a valid CycloneDX {cyclonedx_sbom.SCHEMA_NAME} document: {error}")
        return
    with open(args.job) as f:
        job = json.load(f)
    if args.command == "sbom":
        import cyclonedx_sbom

        cyclonedx_sbom.write(job)
        return
    if args.command == "source-bundle":
        import source_bundle

        source_bundle.write(job)
        return
    if args.command == "licenses":
        import license_gate

        result = license_gate.evaluate(job)
    else:
        import osv_advisories

        result = osv_advisories.check(job)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
