"""Per-file sha256 lists of the example's layer zips: what a new machine must build, file by file.

The lists are committed beside each layer (`layers/<name>/<name>-<runtime>.files.sha256`, the format
of `sha256sum` run in the unzipped layer, sorted by path) so that a change in any built byte shows as
the exact files that moved. Refresh after a deliberate change:

    ./pants package layers:: && python3 tests/reproducible/layer_digests.py --write
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

SUFFIX = ".files.sha256"


def zip_file_digests(layer_zip: Path) -> dict[str, str]:
    """sha256 of each file in the zip, keyed like `sha256sum` in the unzipped tree (`./python/...`)."""
    with zipfile.ZipFile(layer_zip) as zf:
        return {
            f"./{info.filename}": hashlib.sha256(zf.read(info)).hexdigest()
            for info in zf.infolist()
            if not info.is_dir()
        }


def render(digests: dict[str, str]) -> str:
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(digests.items()))


def parse(text: str) -> dict[str, str]:
    return {path: digest for digest, path in (line.split("  ", 1) for line in text.splitlines() if line)}


def committed_list(layer_zip: Path, layers_root: Path) -> Path:
    """dist/layers/geo/geo-aws-py313-x86_64.zip -> layers/geo/geo-aws-py313-x86_64.files.sha256"""
    return layers_root / layer_zip.parent.name / (layer_zip.name[: -len(".zip")] + SUFFIX)


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    lines = []
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            lines.append(f"missing  {path}")
        elif path not in expected:
            lines.append(f"new      {path}")
        elif expected[path] != actual[path]:
            lines.append(f"changed  {path}  {expected[path][:12]} -> {actual[path][:12]}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=Path("dist/layers"))
    parser.add_argument("--layers", type=Path, default=Path("layers"))
    parser.add_argument("--write", action="store_true", help="rewrite the committed lists")
    args = parser.parse_args()
    zips = sorted(args.dist.glob("*/*.zip"))
    if not zips:
        print(f"no layer zips under {args.dist}: run `./pants package layers::` first", file=sys.stderr)
        return 2
    status = 0
    for layer_zip in zips:
        target = committed_list(layer_zip, args.layers)
        actual = zip_file_digests(layer_zip)
        if args.write:
            target.write_text(render(actual))
            print(f"wrote {target} ({len(actual)} files)")
            continue
        diff = differences(parse(target.read_text()) if target.exists() else {}, actual)
        print(f"{layer_zip}: {'same bytes as ' + str(target) if not diff else f'{len(diff)} files differ'}")
        for line in diff:
            print(f"  {line}")
        status |= bool(diff)
    return status


if __name__ == "__main__":
    sys.exit(main())
