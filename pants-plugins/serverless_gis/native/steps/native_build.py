#!/usr/bin/env python3
"""One native build framework with a front end per build system. Runs INSIDE the toolchain
container as the non-root build user, network off (Python >= 3.7; elf_policy.py beside it).

    native_build.py build --name NAME --build-system cmake|configure_make|make|meson
        --source ARCHIVE --out DIR --policy POLICY.json --build-root DIR [--prefix /opt] [--jobs CORES]
        [--source-root DIR] [--build-file DEST=FILE]... [--patch FILE]... [--dep TREE]... [--option=OPT]... [--configure-command CMD]
        [--make-target T]... [--remove GLOB]... [--check CMD]... [--expect GLOB]... [--ccache]
        [--license-file PATH]... [--vendor-toolchain-libraries] [--runtime-provided] [--cross TRIPLE [--sysroot DIR]]
        [--hardening-allow GLOB:PROPERTY]...
    native_build.py run --name NAME --stage DIR --out DIR [--prefix /opt] [--dep TREE]... [--cross TRIPLE [--sysroot DIR]] -- COMMAND...
    native_build.py smoke --tree DIR --policy POLICY.json --source FILE.c --out FILE [--link LIB]... [--cross TRIPLE [--sysroot DIR]]

build, the framework around the front end:
  1. dependency trees (portable install trees of other builds) are copied into the real --prefix
     (the image makes the build user own /opt), so every path compiled in or written to .pc/CMake
     files is the final one;
  2. the source archive is unpacked to <build-root>/source (one top dir or flat; with
     --source-root, that directory of it), the --build-file files copied in (a source shipped
     without its build system) and the patches applied in order with `patch -p1`;
  3. the front end configures, builds (JOBS_PER_CORE jobs per core) and installs into
     <build-root>/stage;
  4. the installed prefix becomes the tree: --remove globs and libtool archives deleted, the
     --license-file texts (paths in the source) copied to share/licenses/NAME/, then made portable
     (elf_policy.vendor: strip, $ORIGIN RUNPATHs, audit; a needed library found only in the
     toolchain image fails unless --vendor-toolchain-libraries, which copies it in; every ELF file
     hardened (elf_policy.HARDENING) but for the --hardening-allow allowances; with
     --runtime-provided every shared library's soname must be one the policy allows); --check
     commands run in it; every --expect glob must match (a declared output that is missing fails,
     naming it);
  5. the tree is copied into --out (a host-owned directory).
Every build (and `run`) compiles with HARDENING_FLAGS: CC and CXX are wrappers that add them.
--cross TRIPLE (e.g. aarch64-linux-gnu) builds for another CPU with the image's cross compilers:
CC, CXX and binutils are `TRIPLE-*`; CMake gets a toolchain file (the cross compilers' own target
libraries and the dependency trees as find roots, qemu as CMAKE_CROSSCOMPILING_EMULATOR for
try_run); meson a cross file; an autoconf configure gets --host/--build; other configure scripts
and Makefiles take CC and friends from the environment (OpenSSL's target name is one of its
configure_options); every ELF file of the tree must be for that CPU. --sysroot: where the image
unpacked the target's own -dev packages (its lock's @sysroot), searched for toolchain libraries.
run: the framework around a build that is a script of its own (the wheels of python_bindings):
dependency trees into the prefix, COMMAND (with --cross, $MESON_CROSS_FILE names a meson cross
file), its --stage directory copied into --out.
The build root is fixed per build (its paths end up in objects and ccache keys). Logs of each
phase are in the build root; a failing phase shows the end of its log.
smoke: the resolve check (elf_policy.audit of the merged trees: every DT_NEEDED from their lib/ or
the policy), then compiles the smoke program against them.
"""
import argparse
import glob
import hashlib
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import elf_policy  # noqa: E402


# Hardening every shipped ELF file gets (Debian's `hardening=+all`, checked by elf_policy.hardening):
# put on the compilers themselves, ahead of a project's own flags, so no build system can drop them.
HARDENING_FLAGS = (
    "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fstack-clash-protection",
    "-Wl,-z,relro,-z,now,-z,noexecstack",
)
HARDENING_FLAGS_BY_CPU = {"x86_64": ("-fcf-protection",), "aarch64": ("-mbranch-protection=standard",)}
# A fixed path: CPython's sysconfig records its CC, which later wheel builds (`run`) call.
HARDENED_COMPILERS_DIR = "/tmp/hardened-compilers"

# --jobs is the cores Pants gives the step, fixed when it starts. Two jobs a core keep them busy
# through I/O and serial phases (configure, links, proj.db), and use the cores another step frees
# while this one runs.
JOBS_PER_CORE = 2


class BuildError(Exception):
    pass


class Target:
    """The CPU a build is for: the image's own, or another through its `TRIPLE-` cross tools."""

    TOOLS = {"CC": "gcc", "CXX": "g++", "AR": "ar", "RANLIB": "ranlib", "NM": "nm", "LD": "ld",
             "STRIP": "strip", "OBJCOPY": "objcopy", "OBJDUMP": "objdump", "READELF": "readelf"}

    def __init__(self, triple=None, sysroot=None):
        self.triple = triple
        self.sysroot = sysroot
        self.cpu = triple.split("-")[0] if triple else platform.machine()
        if self.cpu not in elf_policy.ELF_MACHINES:
            raise BuildError(f"no ELF machine known for the CPU {self.cpu!r} ({triple or 'this image'})")
        self.machine = elf_policy.ELF_MACHINES[self.cpu]

    def tool(self, name):
        return f"{self.triple}-{name}" if self.triple else name

    def environment(self):
        """The tools every build system takes from the environment: the hardened compilers, and a
        cross build's binutils (QEMU_LD_PREFIX: its programs find their loader and libc)."""
        tools = {"CC": self.compiler("gcc"), "CXX": self.compiler("g++")}
        if not self.triple:
            return tools
        return {**{var: self.tool(name) for var, name in self.TOOLS.items()}, **tools, "QEMU_LD_PREFIX": f"/usr/{self.triple}"}

    def compiler(self, name):
        return os.path.join(HARDENED_COMPILERS_DIR, self.tool(name))

    def write_hardened_compilers(self):
        """gcc/g++ wrappers adding HARDENING_FLAGS; each names its compiler's sha256, so ccache's
        content check of the wrapper sees a compiler change too."""
        os.makedirs(HARDENED_COMPILERS_DIR, exist_ok=True)
        flags = " ".join([*HARDENING_FLAGS, *HARDENING_FLAGS_BY_CPU[self.cpu]])
        for name in ("gcc", "g++"):
            real = shutil.which(self.tool(name))
            if not real:
                raise BuildError(f"the toolchain image has no {self.tool(name)}")
            with open(os.path.realpath(real), "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            with open(self.compiler(name), "w") as f:
                f.write(f'#!/bin/sh\n# {os.path.realpath(real)} sha256 {digest}\nexec {real} {flags} "$@"\n')
            os.chmod(self.compiler(name), 0o755)

    def library_dirs(self):
        """Where the toolchain's own libraries of the target are (None: the image's ldconfig cache):
        the cross compilers' own, and the packages of the image's sysroot (its lock's @sysroot)."""
        if not self.triple:
            return None
        sysroot = [f"{self.sysroot}/lib/{self.triple}", f"{self.sysroot}/usr/lib/{self.triple}"] if self.sysroot else []
        return [f"/usr/{self.triple}/lib", *sysroot]

    def emulator(self):
        """How the build runs the target's programs (configure checks, tests)."""
        return [f"qemu-{self.cpu}-static", "-L", f"/usr/{self.triple}"]

    def cmake_toolchain_file(self, path, prefix):
        """Only the cross compilers' target libraries and the dependency trees are searched."""
        sysroot = f"/usr/{self.triple}"
        with open(path, "w") as f:
            f.write("\n".join([
                "set(CMAKE_SYSTEM_NAME Linux)",
                f"set(CMAKE_SYSTEM_PROCESSOR {self.cpu})",
                f"set(CMAKE_C_COMPILER {self.compiler('gcc')})",
                f"set(CMAKE_CXX_COMPILER {self.compiler('g++')})",
                f"set(CMAKE_LIBRARY_ARCHITECTURE {self.triple})",
                f"set(CMAKE_FIND_ROOT_PATH {sysroot} {prefix})",
                "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)",
                "set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)",
                "set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)",
                "set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)",
                f"set(CMAKE_CROSSCOMPILING_EMULATOR {' '.join(self.emulator())})",
                "",
            ]))
        return path

    def meson_cross_file(self, path):
        with open(path, "w") as f:
            f.write("\n".join([
                "[binaries]",
                f"c = '{self.compiler('gcc')}'",
                f"cpp = '{self.compiler('g++')}'",
                f"ar = '{self.tool('ar')}'",
                f"strip = '{self.tool('strip')}'",
                "pkg-config = 'pkg-config'",
                f"exe_wrapper = [{', '.join(repr(w) for w in self.emulator())}]",
                "[host_machine]",
                "system = 'linux'",
                f"cpu_family = '{self.cpu}'",
                f"cpu = '{self.cpu}'",
                "endian = 'little'",
                "",
            ]))
        return path


class Build:
    def __init__(self, a):
        self.a = a
        self.root = a.build_root
        self.source = os.path.join(self.root, "source")
        self.stage = os.path.join(self.root, "stage")
        self.jobs = str(JOBS_PER_CORE * (a.jobs or os.cpu_count()))
        self.target = Target(a.cross, a.sysroot)

    def log(self, msg):
        print(f"native-build[{self.a.name}]: {msg}", file=sys.stderr, flush=True)

    def run(self, phase, argv, cwd=None, env=None):
        """Runs one phase with its output in <build-root>/<phase>.log; on failure shows its end."""
        log = os.path.join(self.root, f"{phase}.log")
        with open(log, "w") as out:
            done = subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            with open(log, errors="replace") as f:
                lines = f.read().splitlines()
            errors = [i for i, line in enumerate(lines) if "error" in line.lower()]
            shown = [lines[j] for i in errors[-8:] for j in range(max(0, i - 2), min(len(lines), i + 7))]
            print("\n".join((shown or lines)[-60:]), file=sys.stderr)
            raise BuildError(f"{phase} of {self.a.name} failed (log: {log})")


def cmake(b):
    a = b.a
    if not os.path.isfile(os.path.join(b.source, "CMakeLists.txt")):
        raise BuildError(f"no CMakeLists.txt at the top of {a.source} (build_system='cmake')")
    build_dir = os.path.join(b.root, "build")
    launcher = []
    if a.ccache and os.environ.get("CCACHE_DIR"):
        # CCACHE_BASEDIR must stay unset: it changed output bytes.
        os.environ.pop("CCACHE_BASEDIR", None)
        os.environ.update(CCACHE_COMPILERCHECK="content", CCACHE_NOHASHDIR="1", CCACHE_MAXSIZE=os.environ.get("CCACHE_MAXSIZE", "2G"))
        launcher = ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
        subprocess.run(["ccache", "-z"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # LIBDIR typed: a project that declares it a PATH (libjpeg-turbo) would make an untyped
    # relative value absolute against the working directory.
    release = os.environ.get("OPT_FLAGS", "-O2 -DNDEBUG")  # CMake's Release -O3 made libgdal 9% bigger
    cross = [f"-DCMAKE_TOOLCHAIN_FILE={b.target.cmake_toolchain_file(os.path.join(b.root, 'cross.cmake'), a.prefix)}"] if a.cross else []
    b.run("configure", [
        "cmake", "-S", b.source, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_INSTALL_PREFIX={a.prefix}", "-DCMAKE_INSTALL_LIBDIR:PATH=lib", f"-DCMAKE_PREFIX_PATH={a.prefix}",
        "-DCMAKE_SKIP_INSTALL_RPATH=ON", f"-DCMAKE_C_FLAGS_RELEASE={release}", f"-DCMAKE_CXX_FLAGS_RELEASE={release}",
        *cross, *launcher, *a.option,
    ])
    b.run("build", ["cmake", "--build", build_dir, "-j", b.jobs, *(("--target", *a.make_target) if a.make_target else ())])
    b.run("install", ["cmake", "--install", build_dir], env={"DESTDIR": b.stage})
    if launcher:
        stats = subprocess.run(["ccache", "-s"], capture_output=True, text=True).stdout
        b.log("ccache: " + ";".join(" ".join(l.split()) for l in stats.splitlines() if "hit" in l or "miss" in l))


def configure_make(b):
    """autotools-style, in the source tree: CONFIGURE --prefix=PREFIX OPTIONS; make; make install."""
    a = b.a
    command = a.configure_command or "./configure"
    if not os.path.isfile(os.path.join(b.source, command)):
        raise BuildError(f"no {command} at the top of {a.source} (build_system='configure_make')")
    cross = []
    if a.cross:
        with open(os.path.join(b.source, command), errors="replace") as f:
            if "Generated by GNU Autoconf" in f.read(4096):
                build = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True, check=True).stdout.strip()
                cross = [f"--host={a.cross}", f"--build={build}"]
    b.run("configure", [command, f"--prefix={a.prefix}", *cross, *a.option], cwd=b.source)
    b.run("build", ["make", "-j", b.jobs, *a.make_target], cwd=b.source)
    b.run("install", ["make", "install", f"DESTDIR={b.stage}"], cwd=b.source)


def make(b):
    """A plain Makefile: OPTIONS (VAR=value) and PREFIX go to both make calls."""
    a = b.a
    if not any(os.path.isfile(os.path.join(b.source, m)) for m in ("Makefile", "makefile", "GNUmakefile")):
        raise BuildError(f"no Makefile at the top of {a.source} (build_system='make')")
    variables = [f"PREFIX={a.prefix}", *a.option]
    b.run("build", ["make", "-j", b.jobs, *variables, *a.make_target], cwd=b.source)
    b.run("install", ["make", "install", *variables, f"DESTDIR={b.stage}"], cwd=b.source)


def meson(b):
    a = b.a
    if not shutil.which("meson") or not shutil.which("ninja"):
        raise BuildError(
            "the toolchain image has no meson/ninja (build_system='meson'): add `meson` and "
            "`ninja-build` to its .packages recipe and refresh its lock"
        )
    if not os.path.isfile(os.path.join(b.source, "meson.build")):
        raise BuildError(f"no meson.build at the top of {a.source} (build_system='meson')")
    build_dir = os.path.join(b.root, "build")
    cross = [f"--cross-file={b.target.meson_cross_file(os.path.join(b.root, 'cross.ini'))}"] if a.cross else []
    b.run("configure", [
        "meson", "setup", build_dir, b.source, f"--prefix={a.prefix}", "--libdir=lib",
        "--buildtype=release", *cross, *a.option,
    ])
    b.run("build", ["meson", "compile", "-C", build_dir, "-j", b.jobs, *a.make_target])
    b.run("install", ["meson", "install", "-C", build_dir, "--destdir", b.stage])


FRONT_ENDS = {"cmake": cmake, "configure_make": configure_make, "make": make, "meson": meson}


def install_dependencies(prefix, trees):
    if trees and not (os.path.isdir(prefix) and os.access(prefix, os.W_OK)):
        raise BuildError(f"{prefix} is not writable by uid {os.getuid()}; use an image built from a toolchain lock")
    for tree in trees:
        if not os.path.isdir(tree):
            raise BuildError(f"dependency tree not found: {tree}")
        subprocess.run(["cp", "-a", f"{tree}/.", f"{prefix}/"], check=True)


def copy_out(tree, out):
    """`out` is the host's (made writable for us): its content is replaced, not the directory."""
    os.makedirs(out, exist_ok=True)
    subprocess.run(["cp", "-R", f"{tree}/.", f"{out}/"], check=True)


def unpack(b):
    a = b.a
    src = os.path.join(b.root, "src")
    os.makedirs(src)
    if subprocess.run(["tar", "-xf", a.source, "-C", src, "--no-same-owner"]).returncode != 0:
        raise BuildError(f"cannot extract {a.source}")
    top = os.listdir(src)
    # the project's directory is renamed, so paths baked into objects do not depend on the archive
    base = os.path.join(src, top[0]) if len(top) == 1 and os.path.isdir(os.path.join(src, top[0])) else src
    project = os.path.join(base, a.source_root) if a.source_root else base
    if not os.path.isdir(project):
        raise BuildError(f"{a.name}: source_root {a.source_root!r} is not a directory of {os.path.basename(a.source)}")
    os.rename(project, b.source)
    for spec in a.build_file:
        dest, path = spec.split("=", 1)
        b.log(f"build file {dest}")
        os.makedirs(os.path.dirname(os.path.join(b.source, dest)), exist_ok=True)
        shutil.copyfile(path, os.path.join(b.source, dest))
    for patch in a.patch:
        b.log(f"patch {os.path.basename(patch)}")
        done = subprocess.run(["patch", "-d", b.source, "-p1", "--forward", "--no-backup-if-mismatch", "-s", "-i", os.path.abspath(patch)])
        if done.returncode != 0:
            raise BuildError(f"patch {os.path.basename(patch)} does not apply to {a.name}")


def install_licenses(b, tree):
    a = b.a
    dest = os.path.join(tree, "share", "licenses", a.name)
    missing = [f for f in a.license_file if not os.path.isfile(os.path.join(b.source, f))]
    if missing:
        raise BuildError(f"{a.name}: license_files not in the source: {', '.join(missing)}")
    names = [os.path.basename(f) for f in a.license_file]
    if len(set(names)) != len(names):
        raise BuildError(f"{a.name}: license_files share a file name: {', '.join(a.license_file)}")
    for f in a.license_file:
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(os.path.join(b.source, f), os.path.join(dest, os.path.basename(f)))
        os.chmod(os.path.join(dest, os.path.basename(f)), 0o644)


def finish_tree(b, policy):
    """The installed prefix, made portable and checked: the build's output tree."""
    a = b.a
    tree = b.stage + a.prefix
    if not os.path.isdir(tree):
        raise BuildError(f"{a.name} installed nothing under {a.prefix}")
    for pattern in [*a.remove, "**/*.la"]:
        for path in glob.glob(os.path.join(tree, pattern), recursive=True):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
    install_licenses(b, tree)
    # A tree that vendors the toolchain's own libraries (CPython, which never ships in a layer) has
    # files built by Debian, not by these compilers: its hardening is not ours to audit.
    hardening = None if a.vendor_toolchain_libraries else a.hardening_allow
    failures = elf_policy.vendor(
        tree, policy, a.dep, log=b.log, from_toolchain=a.vendor_toolchain_libraries,
        strip=b.target.tool("strip"), machine=b.target.machine, toolchain_dirs=b.target.library_dirs(),
        hardening=hardening,
    )
    if not failures and a.runtime_provided:
        failures = elf_policy.not_provided(tree, policy, log=b.log)
    if failures:
        raise BuildError(f"{len(failures)} ELF files of {a.name} break the runtime policy (see AUDIT FAIL above)")
    for check in a.check:
        done = subprocess.run(check, shell=True, cwd=tree, capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"check `{check}` failed in the install tree of {a.name}:\n{done.stdout}{done.stderr}")
    missing = [p for p in a.expect if not glob.glob(os.path.join(tree, p))]
    if missing:
        raise BuildError(
            f"{a.name} did not produce its declared outputs: {', '.join(missing)} (expected_outputs; "
            f"installed lib/: {', '.join(sorted(os.listdir(os.path.join(tree, 'lib')))) if os.path.isdir(os.path.join(tree, 'lib')) else 'none'})"
        )
    return tree


def build(a):
    b = Build(a)
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1609459200")
    os.environ.update(LC_ALL="C", TZ="UTC", PYTHONHASHSEED="0")
    if a.dep or a.build_system == "cmake":
        # Where the dependency trees' .pc files are. Not set otherwise: autoconf records it in the
        # build (CPython's sysconfig), and CMake builds have always had it.
        os.environ["PKG_CONFIG_PATH"] = f"{a.prefix}/lib/pkgconfig"
    b.target.write_hardened_compilers()
    os.environ.update(b.target.environment())
    if a.cross:
        # nothing of the image's own architecture may be found
        os.environ["PKG_CONFIG_LIBDIR"] = f"{a.prefix}/lib/pkgconfig"
    os.umask(0o022)
    policy = elf_policy.Policy(a.policy)
    shutil.rmtree(b.root, ignore_errors=True)
    os.makedirs(b.stage)
    install_dependencies(a.prefix, a.dep)
    unpack(b)
    FRONT_ENDS[a.build_system](b)
    copy_out(finish_tree(b, policy), a.out)
    b.log(f"done ({a.build_system}, {b.jobs} jobs) -> {a.out}")


def run(a):
    target = Target(a.cross, a.sysroot)
    target.write_hardened_compilers()
    os.environ.update(target.environment())
    if a.cross:  # for a meson-built package the command builds (build-wheels.sh: numpy)
        os.environ["MESON_CROSS_FILE"] = target.meson_cross_file(f"/tmp/meson-cross-{target.cpu}.ini")
    install_dependencies(a.prefix, a.dep)
    done = subprocess.run(a.command)
    if done.returncode != 0:
        raise BuildError(f"{a.name}: `{' '.join(a.command[:2])} ...` failed (exit {done.returncode})")
    copy_out(a.stage, a.out)


def smoke(a):
    tree = os.path.abspath(a.tree)
    target = Target(a.cross, a.sysroot)
    failures = elf_policy.audit(
        tree, elf_policy.Policy(a.policy), [os.path.join(tree, "lib")], machine=target.machine,
        log=lambda m: print(m, file=sys.stderr),
    )
    if failures:
        raise BuildError("the merged install trees do not resolve from their lib/ and the runtime policy")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    subprocess.run([
        target.tool("gcc"), "-O2", "-std=c99", "-D_GNU_SOURCE", f"-I{tree}/include", a.source, "-o", a.out,
        f"-L{tree}/lib", f"-Wl,-rpath-link,{tree}/lib", *(f"-l{lib}" for lib in a.link), "-lm",
    ], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="subcommand", required=True)
    b = sub.add_parser("build")
    b.add_argument("--name", required=True)
    b.add_argument("--build-system", required=True, choices=sorted(FRONT_ENDS))
    b.add_argument("--build-root", required=True)
    b.add_argument("--prefix", default="/opt")
    b.add_argument("--jobs", type=int)
    b.add_argument("--configure-command")
    b.add_argument("--cross")
    b.add_argument("--sysroot")
    b.add_argument("--source-root")
    b.add_argument("--ccache", action="store_true")
    b.add_argument("--vendor-toolchain-libraries", action="store_true")
    b.add_argument("--runtime-provided", action="store_true")
    for repeated in ("build-file", "patch", "dep", "option", "make-target", "remove", "check", "expect", "license-file"):
        b.add_argument(f"--{repeated}", action="append", default=[])
    b.add_argument("--hardening-allow", action="append", default=[], type=elf_policy.allowance, metavar="GLOB:PROPERTY")
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--prefix", default="/opt")
    r.add_argument("--dep", action="append", default=[])
    r.add_argument("--stage", required=True)
    r.add_argument("--cross")
    r.add_argument("--sysroot")
    r.add_argument("--out", required=True)
    r.add_argument("command", nargs=argparse.REMAINDER)
    s = sub.add_parser("smoke")
    s.add_argument("--tree", required=True)
    s.add_argument("--link", action="append", default=[])
    s.add_argument("--cross")
    s.add_argument("--sysroot")
    for p in (b, s):
        p.add_argument("--source", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--policy", required=True)
    a = ap.parse_args()
    if a.subcommand == "run":
        a.command = a.command[1:] if a.command[:1] == ["--"] else a.command
    try:
        {"build": build, "run": run, "smoke": smoke}[a.subcommand](a)
    except (BuildError, elf_policy.SetupError) as e:
        print(f"native-build: ERROR: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
