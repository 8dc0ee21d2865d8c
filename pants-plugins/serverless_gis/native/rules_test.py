"""Native builds of a tiny C library fixture in the real toolchain image (needs Docker)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pants.core.goals.package import BuiltPackage
from pants.engine.addresses import Address
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import register
from serverless_gis.native.cpython import BuiltCPython, CPythonBuildFieldSet
from serverless_gis.native.rules import BuiltNativeLibrary, NativeLibraryFieldSet
from serverless_gis.native.tiny_fixture import (
    BUNDLED,
    DEBIAN_PATCHES,
    DEBIAN_SERIES,
    OWN_PATCH,
    HOST_BUILT,
    NETWORK,
    SMOKE,
    TINYA,
    TINYB,
    TINYC,
    TINYD_CMAKE,
    TOOLCHAIN_LINKED,
    UNHARDENED,
    debian_tarball,
    recipe_files,
    tarball,
)


def tiny_library_build(**overrides: str) -> str:
    fields = {
        "name": "tinyb",
        "source": '"tinyb.tar.gz"',
        "toolchain": '"//native/toolchain:bullseye-x86_64"',
        "dependencies": '[":tinya"]',
        "smoke_source": '"smoke.c"',
        "smoke_link": '["tinyb", "tinya"]',
        **overrides,
    }
    return "native_library(" + ", ".join(f"{k}={v}" for k, v in fields.items() if k != "name") + f', name="{fields["name"]}")\n'


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *register.rules(),
            QueryRule(BuiltNativeLibrary, [NativeLibraryFieldSet]),
            QueryRule(BuiltPackage, [NativeLibraryFieldSet]),
            QueryRule(BuiltCPython, [CPythonBuildFieldSet]),
        ],
        target_types=register.target_types(),
        objects={"http_source": __import__("pants.core.target_types", fromlist=["x"]).http_source, "parametrize": Parametrize},
    )
    for path in recipe_files():
        dest = Path(runner.build_root, path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    runner.write_files(
        {
            "native/toolchain/BUILD": (
                'toolchain_image(name="bullseye-x86_64", lockfile="bullseye-x86_64.lock", run_image=":bullseye-x86_64-runtime")\n'
                'toolchain_image(name="bullseye-x86_64-runtime", lockfile="bullseye-x86_64-runtime.lock")\n'
                'toolchain_image(name="bullseye-x86_64-cross-arm64", arch="arm64", cross_triple="aarch64-linux-gnu", '
                'lockfile="bullseye-x86_64-cross-arm64.lock", run_image=":bullseye-arm64-runtime")\n'
                'toolchain_image(name="bullseye-arm64-runtime", arch="arm64", lockfile="bullseye-arm64-runtime.lock")\n'
            ),
            "arch/smoke.c": SMOKE,
            # One target per library, built for both arches; ANSWER comes only from options_by_arch.
            "arch/BUILD": (
                'TOOLCHAINS = parametrize(x86_64="//native/toolchain:bullseye-x86_64", '
                'arm64="//native/toolchain:bullseye-x86_64-cross-arm64")\n'
                'native_library(name="tinya", source="tinya.tar.gz", toolchain=TOOLCHAINS, '
                'options_by_arch={"x86_64": ["-DCMAKE_C_FLAGS=-DANSWER=42"], "arm64": ["-DCMAKE_C_FLAGS=-DANSWER=42"]})\n'
                + tiny_library_build(toolchain="TOOLCHAINS")
                + 'native_library(name="tinyc", source="tinyc.tar.gz", toolchain=TOOLCHAINS, '
                'dependencies=[":tinya"], build_system="configure_make", expected_outputs=["lib/libtinyc.so.1"])\n'
                'native_library(name="hostbuilt", source="hostbuilt.tar.gz", toolchain=TOOLCHAINS)\n'
            ),
            "lib/smoke.c": SMOKE,
            "lib/tinyd.cmake": TINYD_CMAKE,
            "lib/BUILD": (
                'native_library(name="tinya", source="tinya.tar.gz", '
                'toolchain="//native/toolchain:bullseye-x86_64", cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"], '
                'version="1.0", license="MIT", license_files=["tinya.h"], install_excludes=["share/tinya/"])\n'
                + tiny_library_build()
                + 'native_library(name="tinyc", source="tinyc.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'dependencies=[":tinya"], build_system="configure_make", configure_options=["--with-answer=2"], '
                'expected_outputs=["lib/libtinyc.so.1", "include/tinyc.h"])\n'
                # A declared output the build does not produce.
                + 'native_library(name="tinya-more", source="tinya.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"], expected_outputs=["lib/libtinya.so.1", "lib/libtinya_extra.so*"])\n'
                + 'native_library(name="meson", source="tinya.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'build_system="meson")\n'
                + 'native_library(name="net", source="net.tar.gz", toolchain="//native/toolchain:bullseye-x86_64")\n'
                + 'native_library(name="tinyt", source="tinyt.tar.gz", toolchain="//native/toolchain:bullseye-x86_64")\n'
                + 'native_library(name="nolicense", source="tinya.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"], license="MIT", license_files=["LICENSE"])\n'
                + 'native_library(name="tinyd", source="bundle.tar.gz", source_root="deps/tinyd", '
                'build_files={"CMakeLists.txt": "tinyd.cmake"}, toolchain="//native/toolchain:bullseye-x86_64", '
                'expected_outputs=["lib/libtinyd.so.1", "include/tinyd.h"])\n'
                + 'native_library(name="tinyd-elsewhere", source="bundle.tar.gz", source_root="deps/tinye", '
                'build_files={"CMakeLists.txt": "tinyd.cmake"}, toolchain="//native/toolchain:bullseye-x86_64")\n'
                + 'native_library(name="tinyu", source="tinyu.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'build_system="make")\n'
                + 'native_library(name="tinyu-allowed", source="tinyu.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'build_system="make", hardening_allowances={'
                + ", ".join(f'"lib/libtinyu.so.*:{p}": "a fixture that bypasses CC on purpose"' for p in ("bind-now", "stack-protector", "fortify"))
                + "})\n"
                + 'native_library(name="tinya-debian", source="tinya.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"], debian={"source": "tinya", "version": "1.0-1", "release": "13"}, '
                'debian_source="tinya_1.0-1.debian.tar.xz", debian_patches=["01-debian.patch", "02-security.patch"], patches=["own.patch"])\n'
                + 'native_library(name="tinya-debian-misrecorded", source="tinya.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
                'cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"], debian={"source": "tinya", "version": "1.0-1", "release": "13"}, '
                'debian_source="tinya_1.0-1.debian.tar.xz", debian_patches=["01-debian.patch"])\n'
                + 'native_library(name="pinned", toolchain="//native/toolchain:bullseye-x86_64", source=http_source('
                '"http://deb.debian.org/debian/pool/main/g/geos/geos_3.13.1-1.dsc", len=2312, sha256="' + "0" * 64 + '"), '
                'source_policy={"policy": "exception", "reason": "a fixture", "wanted": "nothing", "expires": "2099-12-31"})\n'
            ),
        }
    )
    for name, files in (("tinya", TINYA), ("tinyb", TINYB), ("tinyc", TINYC), ("net", NETWORK), ("tinyt", TOOLCHAIN_LINKED), ("bundle", BUNDLED), ("tinyu", UNHARDENED)):
        Path(runner.build_root, f"lib/{name}.tar.gz").write_bytes(tarball(files))
        if name in ("tinya", "tinyb", "tinyc"):
            Path(runner.build_root, f"arch/{name}.tar.gz").write_bytes(tarball(files))
    Path(runner.build_root, "arch/hostbuilt.tar.gz").write_bytes(tarball(HOST_BUILT))
    Path(runner.build_root, "lib/tinya_1.0-1.debian.tar.xz").write_bytes(debian_tarball(DEBIAN_PATCHES, DEBIAN_SERIES))
    Path(runner.build_root, "lib/own.patch").write_text(OWN_PATCH)
    return runner


def build(rule_runner: RuleRunner, name: str, directory: str = "lib", parameters: dict[str, str] | None = None) -> BuiltNativeLibrary:
    tgt = rule_runner.get_target(Address(directory, target_name=name, parameters=parameters))
    return rule_runner.request(BuiltNativeLibrary, [NativeLibraryFieldSet.create(tgt)])


def materialize(rule_runner: RuleRunner, built: BuiltNativeLibrary, dest: Path) -> None:
    rule_runner.write_digest(built.tree, path_prefix=str(dest.relative_to(rule_runner.build_root)))


def test_builds_a_portable_smoke_checked_tree(rule_runner: RuleRunner) -> None:
    built = build(rule_runner, "tinyb")  # its smoke program ran in the bare runtime image
    [(dep_address, dep_tree)] = built.closure
    assert dep_address == Address("lib", target_name="tinya")
    root = Path(rule_runner.build_root)
    materialize(rule_runner, built, root / "out/b")
    rule_runner.write_digest(dep_tree, path_prefix="out/a")
    assert (root / "out/a/include/tinya.h").exists()
    assert not (root / "out/a/share/tinya").exists()  # install_excludes
    assert (root / "out/a/share/licenses/tinya/tinya.h").read_text() == TINYA["tinya.h"]
    assert "[libtinya.so.1]" in readelf_dynamic(root / "out/b/lib/libtinyb.so")
    assert "[$ORIGIN]" in readelf_dynamic(root / "out/b/lib/libtinyb.so")
    sections = subprocess.run(
        ["readelf", "-S", str(root / "out/b/lib/libtinyb.so")], stdout=subprocess.PIPE, text=True, check=True
    ).stdout
    assert ".symtab" not in sections  # stripped


def readelf_dynamic(path: Path) -> str:
    return subprocess.run(["readelf", "-d", str(path)], stdout=subprocess.PIPE, text=True, check=True).stdout


def elf_machine(path: Path) -> str:
    header = subprocess.run(["readelf", "-h", str(path)], stdout=subprocess.PIPE, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in header.splitlines() if "Machine:" in line)


def test_one_target_builds_for_both_arches(rule_runner: RuleRunner) -> None:
    root = Path(rule_runner.build_root)
    for arch, machine in (("x86_64", "Advanced Micro Devices X86-64"), ("arm64", "AArch64")):
        # tinyb's smoke program ran in the arch's runtime image (arm64: under qemu) and needs
        # ANSWER, which only options_by_arch sets
        built = build(rule_runner, "tinyb", directory="arch", parameters={"toolchain": arch})
        [(dep_address, _)] = built.closure
        assert dep_address == Address("arch", target_name="tinya", parameters={"toolchain": arch})
        materialize(rule_runner, built, root / f"out/{arch}/b")
        assert elf_machine(root / f"out/{arch}/b/lib/libtinyb.so") == machine
        assert "[$ORIGIN]" in readelf_dynamic(root / f"out/{arch}/b/lib/libtinyb.so")
        # configure/make takes the cross compiler from CC
        built_c = build(rule_runner, "tinyc", directory="arch", parameters={"toolchain": arch})
        materialize(rule_runner, built_c, root / f"out/{arch}/c")
        assert elf_machine(root / f"out/{arch}/c/lib/libtinyc.so.1") == machine


def test_a_file_for_another_cpu_fails_naming_it(rule_runner: RuleRunner) -> None:
    build(rule_runner, "hostbuilt", directory="arch", parameters={"toolchain": "x86_64"})
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "hostbuilt", directory="arch", parameters={"toolchain": "arm64"})
    assert "lib/libhost.so: an ELF file for EM_X86_64, not EM_AARCH64" in str(exc.value)


def test_configure_make_library_builds_through_the_same_framework(rule_runner: RuleRunner) -> None:
    built = build(rule_runner, "tinyc")
    assert [a for a, _ in built.closure] == [Address("lib", target_name="tinya")]
    root = Path(rule_runner.build_root)
    materialize(rule_runner, built, root / "out/c")
    assert (root / "out/c/include/tinyc.h").exists() and (root / "out/c/lib/libtinyc.so").is_symlink()
    dynamic = readelf_dynamic(root / "out/c/lib/libtinyc.so.1")
    # linked against the dependency's tree installed at /opt; portable like a CMake build's output
    assert "[libtinya.so.1]" in dynamic and "[$ORIGIN]" in dynamic
    assert "NOW" in dynamic  # the framework's hardened compilers reach a configure/make build
    assert not list((root / "out/c/lib").glob("libtinya*"))  # the dependency stays in its own tree


def test_a_bundled_source_without_build_files_builds_from_its_directory(rule_runner: RuleRunner) -> None:
    built = build(rule_runner, "tinyd")
    root = Path(rule_runner.build_root)
    materialize(rule_runner, built, root / "out/d")
    assert "[libtinyd.so.1]" in readelf_dynamic(root / "out/d/lib/libtinyd.so.1")
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "tinyd-elsewhere")
    assert "tinyd-elsewhere: source_root 'deps/tinye' is not a directory of bundle.tar.gz" in str(exc.value)


@pytest.mark.parametrize(
    "field, message",
    [
        ('options_by_arch={"aarch64": ["-DX=1"]}', "`options_by_arch` has keys ['aarch64'], not toolchain arches"),
        ('source_root="../up"', "`source_root` '../up' is not a relative path"),
        ('build_files={"/CMakeLists.txt": "x.cmake"}', "`build_files` key '/CMakeLists.txt' is not a relative path"),
        ('hardening_allowances={"lib/x.so:pie": "a reason long enough here"}', "key 'lib/x.so:pie' is not GLOB:PROPERTY"),
        ('hardening_allowances={"lib/x.so:relro": "because"}', "`hardening_allowances['lib/x.so:relro']` gives no reason"),
    ],
)
def test_fields_are_checked_at_parse_time(rule_runner: RuleRunner, field: str, message: str) -> None:
    rule_runner.write_files(
        {"bad/BUILD": f'native_library(name="bad", source="x.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", {field})\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("bad", target_name="bad"))
    assert "bad:bad" in str(exc.value) and message in str(exc.value)


def test_missing_declared_output_fails_naming_it(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "tinya-more")
    message = str(exc.value)
    assert "lib:tinya-more" in message and "declared outputs: lib/libtinya_extra.so* (" in message


def test_a_library_only_the_toolchain_has_fails_naming_it(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "tinyt")
    message = str(exc.value)
    assert "lib/libtinyt.so needs libcrypt.so.1, which only the toolchain image has" in message
    assert "add the native_library that builds libcrypt.so.1 to `dependencies`" in message


def test_a_library_built_without_the_hardening_flags_fails_naming_the_file(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "tinyu")
    message = str(exc.value)
    assert "lib:tinyu" in message
    for gap in ("no BIND_NOW", "no __stack_chk_fail", "only unfortified libc calls"):
        assert f"lib/libtinyu.so.1: not hardened: {gap}" in message
    assert "libtinyu.so.1: not hardened: no PT_GNU_RELRO" not in message
    # each allowance excuses exactly its file and property, with its reason on record
    build(rule_runner, "tinyu-allowed")


def test_debian_series_is_applied_before_the_targets_own_patches(rule_runner: RuleRunner) -> None:
    built = build(rule_runner, "tinya-debian")
    root = Path(rule_runner.build_root)
    materialize(rule_runner, built, root / "out/debian")
    assert (root / "out/debian/share/tinya/tinya.txt").read_text() == "debian+security+own\n"


def test_a_series_the_target_records_differently_fails_naming_both(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "tinya-debian-misrecorded")
    message = str(exc.value)
    assert "lib:tinya-debian-misrecorded: `debian_patches` does not match tinya_1.0-1.debian.tar.xz's debian/patches/series" in message
    assert "declared: ['01-debian.patch']" in message and "series:   ['01-debian.patch', '02-security.patch']" in message


def test_missing_license_file_fails_naming_it(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "nolicense")
    assert "nolicense: license_files not in the source: LICENSE" in str(exc.value)


def test_meson_front_end_fails_clearly_without_meson(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "meson")
    assert "lib:meson" in str(exc.value) and "has no meson" in str(exc.value)


def test_options_of_another_build_system_fail_at_parse_time(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"bad/BUILD": 'native_library(name="bad", source="x.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
         'build_system="configure_make", cmake_options=["-DX=1"])\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("bad", target_name="bad"))
    assert "bad:bad" in str(exc.value) and "`cmake_options` do not apply to build_system='configure_make'" in str(exc.value)


def test_build_has_no_network(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "net")
    assert "lib:net" in str(exc.value) and "network unreachable from the build" in str(exc.value)


def test_wrong_sha256_names_target_and_both_hashes(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "pinned")
    message = str(exc.value)
    assert "lib:pinned" in message and "0" * 64 in message
    assert "4ee8da76cf819fecd5a808058fb69049681018d384edd971e80312bb2f9af341" in message


def test_cache_miss_without_docker_explains_the_fix(rule_runner: RuleRunner) -> None:
    rule_runner.set_options(["--native-build-docker-host=unix:///nonexistent/docker.sock"])
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "tinya")
    message = str(exc.value)
    assert "lib:tinya" in message and "needs a" in message and "Docker daemon" in message
    assert "Fix:" in message


def test_a_dependency_that_is_not_a_native_library_is_named(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"bad/BUILD": 'native_library(name="bad", source="x.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
         'dependencies=["//native/toolchain:bullseye-x86_64-runtime"])\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner, "bad", directory="bad")
    message = str(exc.value)
    assert "bad:bad: `dependencies` lists native/toolchain:bullseye-x86_64-runtime, a `toolchain_image`" in message
    assert "only `native_library` targets can go there" in message


def test_license_without_its_files_fails_at_parse_time(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"bad/BUILD": 'native_library(name="bad", source="x.tar.gz", toolchain="//native/toolchain:bullseye-x86_64", '
         'license="MIT")\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("bad", target_name="bad"))
    assert "bad:bad sets `license` but not `license_files`" in str(exc.value)


def test_a_cross_cpython_needs_its_toolchain_sysroot(rule_runner: RuleRunner) -> None:
    # CPython's extension modules link the target's own libffi, OpenSSL...: the lock's @sysroot.
    lock = Path(rule_runner.build_root, "native/toolchain/bullseye-x86_64-cross-arm64.lock").read_text()
    no_sysroot = "".join(line for line in lock.splitlines(keepends=True) if not line.startswith("@sysroot"))
    rule_runner.write_files(
        {
            "nosysroot/cross.lock": no_sysroot,
            "nosysroot/BUILD": (
                'toolchain_image(name="cross", arch="arm64", cross_triple="aarch64-linux-gnu", lockfile="cross.lock")\n'
                'cpython_build(name="cpython", python_version="3.13.5", source="python.tar.gz", toolchain=":cross")\n'
            ),
        }
    )
    Path(rule_runner.build_root, "nosysroot/python.tar.gz").write_bytes(tarball(TINYA))
    tgt = rule_runner.get_target(Address("nosysroot", target_name="cpython"))
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(BuiltCPython, [CPythonBuildFieldSet.create(tgt)])
    message = str(exc.value)
    assert "nosysroot:cpython" in message and "nosysroot:cross" in message and "no `@sysroot`" in message
    assert "Fix: add `@sysroot <arch> /sysroot`" in message
