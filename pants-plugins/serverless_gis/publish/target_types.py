"""Deployment settings of `serverless_function` targets, added as plugin fields."""

from __future__ import annotations

import re
from typing import Optional

from pants.engine.addresses import Address
from pants.engine.target import IntField, InvalidFieldException, StringField
from pants.util.strutil import help_text

# AWS Lambda's own limits (CreateFunction API reference).
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[A-Za-z0-9_-]{1,128}")
MEMORY_MB = (128, 10240)
TIMEOUT_SECONDS = (1, 900)
EPHEMERAL_STORAGE_MB = (512, 10240)


def _invalid(address: Address, alias: str, value: object, problem: str, fix: str) -> InvalidFieldException:
    return InvalidFieldException(f"{address}: `{alias}={value!r}` {problem}. Fix: {fix}")


class _PatternStringField(StringField):
    pattern: re.Pattern
    problem: str
    fix: str

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not cls.pattern.fullmatch(value):
            raise _invalid(address, cls.alias, value, cls.problem, cls.fix)
        return value


class DeployFunctionNameField(_PatternStringField):
    alias = "function_name"
    pattern = FUNCTION_NAME
    problem = "is not a Lambda function name"
    fix = "use 1 to 64 letters, digits, `-` or `_`."
    help = help_text(
        """
        Name of the deployed function. Default: the packaged zip's name, `<target name>-<runtime
        name>`, so each runtime variant of a parametrized target is its own function.
        """
    )


class DeployRoleField(_PatternStringField):
    alias = "role"
    pattern = ROLE_ARN
    problem = "is not an IAM role ARN"
    fix = "give the role's ARN, `arn:aws:iam::<12-digit account>:role/<name>`."
    help = help_text(
        """
        ARN of the function's execution role, e.g. `arn:aws:iam::123456789012:role/gis-lambda`.
        Default: `[serverless-publish].role`.
        """
    )


class _BoundedIntField(IntField):
    bounds: tuple[int, int]
    unit: str

    @classmethod
    def compute_value(cls, raw_value: Optional[int], address: Address) -> Optional[int]:
        value = super().compute_value(raw_value, address)
        low, high = cls.bounds
        if value is not None and not low <= value <= high:
            raise _invalid(
                address, cls.alias, value, "is outside Lambda's range",
                f"use {low} to {high} {cls.unit}.",
            )
        return value


class DeployMemoryField(_BoundedIntField):
    alias = "memory_mb"
    default = 512
    bounds = MEMORY_MB
    unit = "MB"
    help = "Memory of the deployed function in MB (128 to 10240); CPU share grows with it."


class DeployTimeoutField(_BoundedIntField):
    alias = "timeout_seconds"
    default = 30
    bounds = TIMEOUT_SECONDS
    unit = "seconds"
    help = "Timeout of the deployed function in seconds (1 to 900)."


class DeployEphemeralStorageField(_BoundedIntField):
    alias = "ephemeral_storage_mb"
    default = 512
    bounds = EPHEMERAL_STORAGE_MB
    unit = "MB"
    help = help_text(
        """
        Size of the function's /tmp in MB (512 to 10240; Lambda's EphemeralStorage): deployed, and
        the size of /tmp when `serverless_invoke_test` runs the function.
        """
    )


class DeployAliasField(_PatternStringField):
    alias = "alias"
    pattern = ALIAS_NAME
    problem = "is not a Lambda alias name"
    fix = "use letters, digits, `-` or `_` (not only digits, which name versions)."
    help = help_text(
        """
        Alias moved to each new version, the name callers invoke. Default:
        `[serverless-publish].alias` (`live`).
        """
    )


DEPLOY_FIELDS = (
    DeployFunctionNameField,
    DeployRoleField,
    DeployMemoryField,
    DeployTimeoutField,
    DeployEphemeralStorageField,
    DeployAliasField,
)
