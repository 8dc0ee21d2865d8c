"""What layers, functions and the emulation need to know about a provider's function runtime."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_unzipped_mb: int
    max_layers: int
    max_direct_upload_mb: int


@dataclass(frozen=True)
class RuntimeModel:
    provider: str
    # Where layers are extracted (each over the previous ones), and the folder in a layer zip
    # that lands on sys.path.
    layer_root: str
    layer_python_dir: str
    # Where the function's zip is extracted; it comes first on sys.path.
    task_root: str
    # Where the provider keeps the interpreter (the emulation mounts the built CPython there).
    interpreter_prefix: str
    # The environment the provider sets for every handler, `{python}` replaced by `3.13`.
    environment: tuple[tuple[str, str], ...]
    limits: Limits
    # The emulation runs as the provider's sandbox user on a read-only root, writes in /tmp only.
    sandbox_user: str
    read_only_root: bool
    tmpfs: str
    # The provider's CPU for each machine, as qemu-user names it: an emulated run (arm64 on an
    # x86_64 host) gets that CPU's features, not qemu's default `max` (SVE, and pointer
    # authentication computed in software: 5x slower for code built with branch protection).
    cpus: tuple[tuple[str, str], ...] = ()

    @property
    def layer_python_root(self) -> str:
        return f"{self.layer_root}/{self.layer_python_dir}"

    def environment_for(self, python_version: tuple[int, int]) -> tuple[str, ...]:
        version = f"{python_version[0]}.{python_version[1]}"
        return tuple(f"{k}={v.replace('{python}', version)}" for k, v in self.environment)

    def emulation_environment(self, machine: str) -> tuple[str, ...]:
        """What qemu-user reads when it runs the provider's `machine` on another CPU (ignored
        where the host runs it natively)."""
        return tuple(f"QEMU_CPU={cpu}" for m, cpu in self.cpus if m == machine)

    def sandbox_docker_args(self, tmp_mb: int | None = None) -> tuple[str, ...]:
        """`docker run` options for the provider's sandbox (user, read-only root, writable /tmp,
        `tmp_mb` large if given)."""
        tmpfs = self.tmpfs if tmp_mb is None else re.sub(r"size=\d+m", f"size={tmp_mb}m", self.tmpfs)
        return (
            "--user", self.sandbox_user,
            "--tmpfs", tmpfs,
            *(("--read-only",) if self.read_only_root else ()),
        )

    def docker_run_args(self, python_version: tuple[int, int]) -> tuple[str, ...]:
        """The sandbox options and the provider's environment, for host tools that run handlers."""
        env = self.environment_for(python_version)
        return (*self.sandbox_docker_args(), *(a for kv in env for a in ("-e", kv)))
