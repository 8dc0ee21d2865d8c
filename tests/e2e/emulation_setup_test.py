"""A host that cannot run arm64 programs (qemu-aarch64's binfmt_misc entry missing, or present but
disabled) fails an arm64 step with an error naming build-support/host-setup.sh, not with the
kernel's "exec format error"; a registered entry runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fixture_repo import LICENSE_FILE, FixtureRepo, write_pants_toml

BINFMT = Path("/proc/sys/fs/binfmt_misc")
SMOKE = '#include <tinya.h>\nint main(void) { return tinya_answer() == 42 ? 0 : 1; }\n'


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    from serverless_gis.native.tiny_fixture import TINYA, recipe_files, tarball

    root = tmp_path_factory.mktemp("emulation") / "repo"
    repo = FixtureRepo(root, root.parent / "store")
    repo.write(
        {
            "native/toolchain/BUILD": """
                toolchain_image(name="cross", arch="arm64", cross_triple="aarch64-linux-gnu",
                                lockfile="bullseye-x86_64-cross-arm64.lock", run_image=":arm64-runtime")
                toolchain_image(name="arm64-runtime", arch="arm64", lockfile="bullseye-arm64-runtime.lock")
            """,
            # Its smoke program runs in the arm64 runtime image: under qemu on this host.
            "native/tinya/BUILD": """
                native_library(name="tinya", source="tinya.tar.gz", toolchain="//native/toolchain:cross",
                               version="1.0.0", license="MIT", license_files=["LICENSE"],
                               cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"],
                               smoke_source="smoke.c", smoke_link=["tinya"])
            """,
            "native/tinya/smoke.c": SMOKE,
        }
    )
    for path in recipe_files():
        dest = root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(path).read_bytes())
    (root / "native/tinya/tinya.tar.gz").write_bytes(tarball({**TINYA, **LICENSE_FILE}))
    write_pants_toml(root, {"fx": "3rdparty/fx.lock"})
    return repo


def entry(state: str) -> str:
    """A qemu-aarch64 entry as the kernel shows it, enabled or disabled."""
    registered = (BINFMT / "qemu-aarch64").read_text().splitlines()[1:]
    return "\n".join([state, *registered]) + "\n"


@pytest.mark.parametrize("qemu", ["missing", "disabled"])
def test_no_arm64_emulation_names_host_setup(repo: FixtureRepo, tmp_path: Path, qemu: str) -> None:
    fake = tmp_path / "binfmt_misc"
    fake.mkdir()
    if qemu == "disabled":
        (fake / "qemu-aarch64").write_text(entry("disabled"))
    result = repo.pants("package", "native/tinya", check=False, bind={str(BINFMT): fake})
    assert result.returncode != 0
    assert "native/tinya" in result.output
    assert "qemu-aarch64 is not registered with binfmt_misc, or its entry is disabled" in result.output
    assert "build-support/host-setup.sh" in result.output
    assert "exec format error" not in result.output
    assert not (repo.root / "dist/native/tinya").exists()


def test_registered_emulation_runs_the_smoke_program(repo: FixtureRepo, tmp_path: Path) -> None:
    fake = tmp_path / "binfmt_misc"
    fake.mkdir()
    (fake / "qemu-aarch64").write_text(entry("enabled"))
    repo.pants("package", "native/tinya", bind={str(BINFMT): fake})
    assert (repo.root / "dist/native/tinya/tinya-arm64/lib/libtinya.so.1").exists()
