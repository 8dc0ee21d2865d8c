"""The layer hardening audit on small shared objects compiled here: `fortify` holds for a binding's
package when any of its modules shows it, each file needs the other properties, and allowances
excuse only what they name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from serverless_gis.resources import package_resource

HARDENED = ["-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-Wl,-z,relro,-z,now,-z,noexecstack"]
# A copy into a stack buffer of known size: __strcpy_chk, stack protector.
SIZED = "#include <string.h>\nvoid use(char *);\nvoid sized(const char *s) { char b[16]; strcpy(b, s); use(b); }\n"
# A stack buffer (stack protector) and a copy of a run-time size only: plain memmove.
RUNTIME = (
    "#include <string.h>\nvoid use(char *);\n"
    "void runtime(char *d, const char *s, size_t n) { char tmp[64]; use(tmp); memmove(d, s, n); }\n"
)


def compile_so(path: Path, source: str, flags: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    c = path.with_suffix(".c")
    c.write_text(source)
    subprocess.run(["gcc", "-shared", "-fPIC", *flags, "-o", str(path), str(c)], check=True)
    c.unlink()


def audit(tmp_path: Path, *allow: str) -> subprocess.CompletedProcess:
    steps = tmp_path / "steps"
    steps.mkdir(exist_ok=True)
    for name in ("layer_hardening.py", "elf_policy.py"):
        (steps / name).write_bytes(package_resource("serverless_gis.native", f"steps/{name}"))
    return subprocess.run(
        [sys.executable, str(steps / "layer_hardening.py"), "--tree", str(tmp_path / "layer"),
         *(f"--allow={a}" for a in allow)],
        capture_output=True,
        text=True,
    )


def test_a_package_with_one_fortified_module_passes(tmp_path: Path) -> None:
    compile_so(tmp_path / "layer/python/pkg/sized.so", SIZED, HARDENED)
    compile_so(tmp_path / "layer/python/pkg/sub/runtime.so", RUNTIME, HARDENED)
    result = audit(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "layer-hardening: ok" in result.stderr


def test_a_package_without_any_fortified_call_fails_naming_the_file(tmp_path: Path) -> None:
    compile_so(tmp_path / "layer/python/pkg/runtime.so", RUNTIME, HARDENED)
    compile_so(tmp_path / "layer/python/other/sized.so", SIZED, HARDENED)
    result = audit(tmp_path)
    assert result.returncode == 1
    assert "python/pkg/runtime.so: not hardened: only unfortified libc calls" in result.stderr
    assert "other/sized.so" not in result.stderr


def test_an_allowance_excuses_only_its_property_of_its_files(tmp_path: Path) -> None:
    compile_so(tmp_path / "layer/lib/libruntime.so.1", RUNTIME, HARDENED)
    compile_so(tmp_path / "layer/lib/libplain.so.1", RUNTIME, ["-O2", "-fno-stack-protector", "-Wl,-z,lazy"])
    result = audit(tmp_path, "lib/libruntime.so.*:fortify", "lib/libplain.so.*:fortify")
    assert result.returncode == 1
    assert "libruntime" not in result.stderr
    assert "lib/libplain.so.1: not hardened: no BIND_NOW" in result.stderr
    assert "lib/libplain.so.1: not hardened: no __stack_chk_fail" in result.stderr
    assert "lib/libplain.so.1: not hardened: only unfortified" not in result.stderr


@pytest.mark.parametrize("spec", ["lib/x.so", "lib/x.so:pie"])
def test_a_malformed_allowance_is_a_usage_error(tmp_path: Path, spec: str) -> None:
    (tmp_path / "layer").mkdir()
    result = audit(tmp_path, spec)
    assert result.returncode == 2 and "GLOB:PROPERTY" in result.stderr
