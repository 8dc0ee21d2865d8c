"""End to end: a new machine whose global pip configuration is hostile still locks and packages.

The fixture repo starts from an empty Pants store and empty named caches, resolves and packages the
other arch (arm64 on an x86_64 host), and runs in a private mount namespace where
- the machine-wide pip configuration (/etc/xdg/pip/pip.conf, where pip looks by default) carries a
  `constraint =` line, as orgs' global pip configs do (pip 23.1.2 then fails every download of a
  locked artifact with "pip: AssertionError" unless pip reads no configuration at all), and
- pex's default cache in the account's home (found through the passwd entry) is an empty directory
  that must stay empty: Pants' processes keep pex's cache in the fixture's own named caches.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.fixture_repo import FILES, FixtureRepo, in_mount_namespace, write_pants_toml


@dataclass
class Machine:
    mounts: dict[str, Path]  # bind mounts (target: source) that make this machine a hostile new one
    account_pex_cache: Path  # what pex's default cache in the account's home shows in the namespace


@pytest.fixture(scope="module")
def machine(tmp_path_factory) -> Machine:
    tmp = tmp_path_factory.mktemp("machine")
    xdg = tmp / "xdg"
    (xdg / "pip").mkdir(parents=True)
    constraints = xdg / "pip" / "constraints.txt"
    constraints.write_text("# an org-wide cap, unrelated to what the build resolves\ntorch<=2.14.1\n")
    (xdg / "pip" / "pip.conf").write_text(f"[global]\nconstraint = {constraints}\n")
    account_pex_cache = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pex"
    account_pex_cache.mkdir(parents=True, exist_ok=True)
    Path("/etc/xdg").mkdir(exist_ok=True)
    empty = tmp / "account-pex-cache"
    empty.mkdir()
    return Machine({"/etc/xdg": xdg, str(account_pex_cache): empty}, empty)


def test_the_machine_is_hostile(machine: Machine) -> None:
    """pip on the host really sees the constraint inside the namespace (else the test proves nothing)."""
    argv = in_mount_namespace(["python3", "-m", "pip", "config", "list", "--global"], machine.mounts)
    out = subprocess.run(argv, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True).stdout
    assert "global.constraint=" in out, out


def test_other_arch_locks_and_packages_from_empty_caches(tmp_path: Path, machine: Machine) -> None:
    repo = FixtureRepo(tmp_path / "repo", tmp_path / "store")
    repo.write(FILES)
    write_pants_toml(
        repo.root,
        {"fx-arm64": "3rdparty/fx-arm64.lock", "fx-x86_64": "3rdparty/fx-x86_64.lock", "pinned": "3rdparty/pinned.lock"},
    )
    repo.pants("complete-platforms", "runtimes:", bind=machine.mounts)
    repo.pants("generate-lockfiles", "--resolve=lock:fx-arm64", bind=machine.mounts)
    repo.pants(
        "package", "layers/base:base@runtime=arm64", "functions/hello:hello@runtime=arm64", bind=machine.mounts
    )

    layer = repo.root / "dist/layers/base/base-arm64.zip"
    names = zipfile.ZipFile(layer).namelist()
    yaml_ext = [n for n in names if n.startswith("python/yaml/_yaml.") and n.endswith(".so")]
    assert yaml_ext and all("aarch64" in n for n in yaml_ext), yaml_ext
    assert (repo.root / "dist/functions/hello/hello-arm64.zip").is_file()
    # pex kept its cache (downloads included) in the fixture's named caches, not in the account's.
    wheels = [p.name.lower() for p in (tmp_path / "store/named/pex_root").rglob("*.whl")]
    assert any(w.startswith("pyyaml-") and "aarch64" in w for w in wheels), wheels
    assert list(machine.account_pex_cache.iterdir()) == []
