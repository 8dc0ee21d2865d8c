"""What a publish or deploy must change, from the account's state and the local artifacts.

Pure functions, no AWS calls: `lambda_publish.py` reads the account, asks these what to do, and
does only that, so a rerun after any failure repeats no finished step. Runs under the tool's
Python (3.9 to 3.13) and inside Pants (3.9).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Optional

# Configuration keys a deploy sets, as GetFunctionConfiguration and ListVersionsByFunction name them.
CONFIG_KEYS = ("Role", "Handler", "Runtime", "MemorySize", "Timeout", "EphemeralStorage", "Environment", "Layers")
PREVIOUS_VERSION = re.compile(r"previous version (\d+)")


def code_sha256(hex_digest: str) -> str:
    """Lambda's CodeSha256: the base64 of the zip's sha256."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def layer_version_with_code(versions: list[dict], sha256_b64: str) -> Optional[dict]:
    """The newest existing layer version whose zip has this digest (`versions`: GetLayerVersion
    responses), or None: versions are content-addressed, so that one is reused."""
    matching = [v for v in versions if v["Content"]["CodeSha256"] == sha256_b64]
    return max(matching, key=lambda v: v["Version"]) if matching else None


def desired_configuration(
    role: str,
    handler: str,
    runtime: str,
    memory_mb: int,
    timeout_seconds: int,
    environment: dict[str, str],
    layer_arns: list[str],
    ephemeral_storage_mb: int = 512,
) -> dict:
    return {
        "Role": role,
        "Handler": handler,
        "Runtime": runtime,
        "MemorySize": memory_mb,
        "Timeout": timeout_seconds,
        "EphemeralStorage": {"Size": ephemeral_storage_mb},
        "Environment": dict(sorted(environment.items())),
        "Layers": list(layer_arns),
    }


def normalized_configuration(configuration: dict) -> dict:
    """A function or version configuration in the shape of `desired_configuration`."""
    return {
        "Role": configuration.get("Role"),
        "Handler": configuration.get("Handler"),
        "Runtime": configuration.get("Runtime"),
        "MemorySize": configuration.get("MemorySize"),
        "Timeout": configuration.get("Timeout"),
        # Lambda's default when a configuration predates the setting.
        "EphemeralStorage": {"Size": (configuration.get("EphemeralStorage") or {}).get("Size", 512)},
        "Environment": dict(sorted((configuration.get("Environment") or {}).get("Variables", {}).items())),
        "Layers": [layer["Arn"] for layer in configuration.get("Layers") or ()],
    }


def configuration_changes(current: dict, desired: dict) -> dict[str, tuple]:
    """Keys whose deployed value differs from the desired one: (deployed, desired)."""
    now = normalized_configuration(current)
    return {key: (now[key], desired[key]) for key in CONFIG_KEYS if now[key] != desired[key]}


def is_same_deployment(configuration: dict, desired: dict, sha256_b64: str, architecture: str) -> bool:
    return (
        configuration.get("CodeSha256") == sha256_b64
        and (configuration.get("Architectures") or ["x86_64"]) == [architecture]
        and not configuration_changes(configuration, desired)
    )


def reusable_version(versions: list[dict], desired: dict, sha256_b64: str, architecture: str) -> Optional[str]:
    """The newest published version (not $LATEST) with exactly this code and configuration."""
    same = [
        v for v in versions
        if v["Version"] != "$LATEST" and is_same_deployment(v, desired, sha256_b64, architecture)
    ]
    return max(same, key=lambda v: int(v["Version"]))["Version"] if same else None


@dataclass(frozen=True)
class FunctionPlan:
    create: bool
    code_change: bool
    config_changes: dict = field(default_factory=dict)
    # An existing version to point the alias at, or None: publish a new one.
    version: Optional[str] = None
    alias_from: Optional[str] = None
    alias_moves: bool = True

    def describe(self, alias: str) -> list[str]:
        steps = []
        if self.create:
            steps.append("create function")
        if self.code_change:
            steps.append("function code change")
        if self.config_changes:
            steps.append("config change (" + ", ".join(sorted(self.config_changes)) + ")")
        steps.append(f"reuse version {self.version}" if self.version else "new version")
        if self.alias_moves:
            origin = self.alias_from or "(new alias)"
            steps.append(f"alias move {alias}: {origin} -> {self.version or 'new version'}")
        else:
            steps.append(f"alias {alias} unchanged at {self.version}")
        return steps


def plan_function(
    current: Optional[dict],
    versions: list[dict],
    alias: Optional[dict],
    desired: dict,
    sha256_b64: str,
    architecture: str,
) -> FunctionPlan:
    """`current`: GetFunctionConfiguration of $LATEST (None: no such function); `alias`: GetAlias
    (None: no such alias)."""
    version = reusable_version(versions, desired, sha256_b64, architecture)
    alias_from = alias["FunctionVersion"] if alias else None
    alias_moves = version is None or alias_from != version
    if current is None:
        return FunctionPlan(True, False, {}, version, alias_from, alias_moves)
    code_change = current.get("CodeSha256") != sha256_b64 or (current.get("Architectures") or ["x86_64"]) != [architecture]
    return FunctionPlan(False, code_change, configuration_changes(current, desired), version, alias_from, alias_moves)


def alias_description(previous: Optional[str]) -> str:
    """Recorded on the alias in the same call that moves it, for `rollback`."""
    return f"serverless-gis: previous version {previous}" if previous else "serverless-gis"


def previous_version(alias: dict) -> Optional[str]:
    found = PREVIOUS_VERSION.search(alias.get("Description") or "")
    return found.group(1) if found else None
