"""A tiny C library pair standing in for PROJ (tinya) and GDAL (tinyb) in fast tests."""

from __future__ import annotations

import io
import tarfile


def recipe_files() -> list[str]:
    """Repo files a native build needs (toolchain locks, policy), relative to the root; the scripts
    ship with the ruleset."""
    return [
        "native/toolchain/bullseye-x86_64.lock",
        "native/toolchain/bullseye-x86_64-runtime.lock",
        "native/toolchain/bullseye-x86_64-cross-arm64.lock",
        "native/toolchain/bullseye-arm64-runtime.lock",
        "native/policy/aws-al2023.json",
    ]


def tarball(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(f"src/{name}")
            info.size, info.mtime = len(data), 0
            if data.startswith(b"#!"):
                info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def debian_tarball(patches: dict[str, str], series: str) -> bytes:
    """A Debian source package's `.debian.tar.xz`: changelog, patches and their series."""
    files = {"debian/changelog": "tinya (1.0-1) trixie; urgency=medium\n", "debian/patches/series": series}
    files.update({f"debian/patches/{name}": text for name, text in patches.items()})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def data_patch(old: str, new: str) -> str:
    """A `patch -p1` diff of tinya's installed data file."""
    return f"--- a/tinya.txt\n+++ b/tinya.txt\n@@ -1 +1 @@\n-{old}\n+{new}\n"


# Debian's series changes tinya.txt; the target's own patch goes on top of it.
DEBIAN_PATCHES = {"01-debian.patch": data_patch("data", "debian"), "02-security.patch": data_patch("debian", "debian+security")}
DEBIAN_SERIES = "# Debian's patches\n01-debian.patch\n02-security.patch -p1\n"
OWN_PATCH = data_patch("debian+security", "debian+security+own")


def labelled(name: str) -> str:
    """A function with a stack buffer and a fortifiable call, as every real library has: with the
    hardening flags its library imports __stack_chk_fail and __memcpy_chk."""
    return (
        f'#include <stdio.h>\n#include <string.h>\nint {name}_label(char *out, const char *in, size_t n) '
        f'{{ char buf[32]; memcpy(buf, in, n); buf[31] = 0; return sprintf(out, "%s", buf); }}\n'
    )


TINYA = {
    "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.13)
project(tinya C)
add_library(tinya SHARED tinya.c)
set_target_properties(tinya PROPERTIES SOVERSION 1)
install(TARGETS tinya LIBRARY DESTINATION lib)
install(FILES tinya.h DESTINATION include)
install(FILES tinya.txt DESTINATION share/tinya)
""",
    "tinya.h": "int tinya_answer(void);\n",
    "tinya.c": '#include "tinya.h"\nint tinya_answer(void) { return ANSWER; }\n' + labelled("tinya"),
    "tinya.txt": "data\n",
}

TINYB = {
    "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.13)
project(tinyb C)
find_library(TINYA tinya REQUIRED)
find_path(TINYA_INCLUDE tinya.h REQUIRED)
add_library(tinyb SHARED tinyb.c)
target_include_directories(tinyb PRIVATE ${TINYA_INCLUDE})
target_link_libraries(tinyb PRIVATE ${TINYA})
install(TARGETS tinyb LIBRARY DESTINATION lib)
install(FILES tinyb.h DESTINATION include)
""",
    "tinyb.h": "int tinyb_double_answer(void);\n",
    "tinyb.c": labelled("tinyb") + '#include "tinyb.h"\n#include <tinya.h>\nint tinyb_double_answer(void) { return 2 * tinya_answer(); }\n'
    "#ifndef FLAVOR\n#define FLAVOR 0\n#endif\nint tinyb_flavor(void) { return FLAVOR; }\n",
}

# A configure/make library (autotools-style: `configure --prefix=...`, make, make install DESTDIR)
# on tinya, standing in for the zlib/sqlite/OpenSSL builds.
TINYC = {
    "configure": """#!/bin/sh
prefix=/usr/local
for arg; do
  case "$arg" in
    --prefix=*) prefix="${arg#--prefix=}" ;;
    --with-answer=*) answer="${arg#--with-answer=}" ;;
    *) echo "configure: unknown option $arg" >&2; exit 1 ;;
  esac
done
printf 'PREFIX = %s\nANSWER = %s\n' "$prefix" "${answer:-1}" > config.mk
""",
    "Makefile": """include config.mk
libtinyc.so.1: tinyc.c
\t$(CC) -O2 -shared -fPIC -DANSWER=$(ANSWER) -I$(PREFIX)/include -Wl,-soname,libtinyc.so.1 -o $@ tinyc.c -L$(PREFIX)/lib -ltinya
install: libtinyc.so.1
\tmkdir -p $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
\tcp libtinyc.so.1 $(DESTDIR)$(PREFIX)/lib/
\tcp tinyc.h $(DESTDIR)$(PREFIX)/include/
\tln -sf libtinyc.so.1 $(DESTDIR)$(PREFIX)/lib/libtinyc.so
""",
    "tinyc.h": "int tinyc_answer(void);\n",
    "tinyc.c": '#include "tinyc.h"\n#include <tinya.h>\nint tinyc_answer(void) { return ANSWER + tinya_answer(); }\n' + labelled("tinyc"),
}

SMOKE = """
#include <stdio.h>
#include <tinya.h>
#include <tinyb.h>
int main(void) {
  printf("answer=%d\\n", tinyb_double_answer());
  return tinyb_double_answer() == 84 ? 0 : 1;
}
"""

# A leaf library standing in for libpng (GDAL's stand-in builds against it, PROJ's does not).
def tinyp(release: int) -> dict[str, str]:
    return {
        "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.13)
project(tinyp C)
add_library(tinyp SHARED tinyp.c)
set_target_properties(tinyp PROPERTIES SOVERSION 16)
install(TARGETS tinyp LIBRARY DESTINATION lib)
install(FILES tinyp.h DESTINATION include)
""",
        "tinyp.h": "int tinyp_release(void);\n",
        "tinyp.c": f'#include "tinyp.h"\nint tinyp_release(void) {{ return {release}; }}\n' + labelled("tinyp"),
        "LICENSE": "Permission is granted.\n",
    }


# Links libcrypt, which the toolchain image has (glibc's -dev) and no target builds.
TOOLCHAIN_LINKED = {
    "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.13)
project(tinyt C)
add_library(tinyt SHARED tinyt.c)
target_link_libraries(tinyt PRIVATE crypt)
install(TARGETS tinyt LIBRARY DESTINATION lib)
""",
    "tinyt.c": '#include <crypt.h>\nconst char *tinyt(void) { return crypt("x", "ab"); }\n',
}

NETWORK = {
    "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.13)
project(net C)
file(DOWNLOAD http://deb.debian.org/debian/ ${CMAKE_BINARY_DIR}/index.html STATUS st TIMEOUT 20)
list(GET st 0 code)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "network unreachable from the build: ${st}")
endif()
""",
}

# A bundle (like an npm package's deps/) holding a library's sources without their build system:
# built with `source_root` and a CMakeLists.txt from `build_files`.
BUNDLED = {
    "README": "a bundle\n",
    "deps/tinyd/tinyd.h": "int tinyd_answer(void);\n",
    "deps/tinyd/tinyd.c": '#include "tinyd.h"\nint tinyd_answer(void) { return 4; }\n' + labelled("tinyd"),
}

TINYD_CMAKE = """
cmake_minimum_required(VERSION 3.13)
project(tinyd C)
add_library(tinyd SHARED tinyd.c)
set_target_properties(tinyd PROPERTIES SOVERSION 1)
install(TARGETS tinyd LIBRARY DESTINATION lib)
install(FILES tinyd.h DESTINATION include)
"""

# A Makefile that calls gcc by name with its own flags, bypassing the framework's hardened CC:
# its library lacks every hardening property but RELRO.
UNHARDENED = {
    "Makefile": """
libtinyu.so.1: tinyu.c
\tgcc -O2 -shared -fPIC -fno-stack-protector -U_FORTIFY_SOURCE -Wl,-z,lazy -Wl,-soname,libtinyu.so.1 -o $@ tinyu.c
install: libtinyu.so.1
\tmkdir -p $(DESTDIR)$(PREFIX)/lib
\tcp libtinyu.so.1 $(DESTDIR)$(PREFIX)/lib/
""",
    "tinyu.c": labelled("tinyu"),
}

# Installs a library built with the build machine's own compiler (hardened by hand): in a cross build,
# an ELF file for the wrong CPU.
HOST_BUILT = {
    "CMakeLists.txt": """
cmake_minimum_required(VERSION 3.13)
project(hostbuilt C)
add_custom_command(OUTPUT libhost.so COMMAND gcc -O2 -shared -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wl,-z,relro,-z,now -o libhost.so ${CMAKE_SOURCE_DIR}/host.c DEPENDS host.c)
add_custom_target(host ALL DEPENDS libhost.so)
install(FILES ${CMAKE_BINARY_DIR}/libhost.so DESTINATION lib)
""",
    "host.c": "int host(void) { return 1; }\n" + labelled("host"),
}
