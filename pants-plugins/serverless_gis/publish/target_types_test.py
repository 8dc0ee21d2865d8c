from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException
from serverless_gis.publish.target_types import (
    DeployAliasField,
    DeployEphemeralStorageField,
    DeployFunctionNameField,
    DeployMemoryField,
    DeployRoleField,
    DeployTimeoutField,
)

ADDRESS = Address("functions/hello", target_name="hello")


@pytest.mark.parametrize(
    "field, value, expected",
    [
        (DeployRoleField, "gis-lambda", "is not an IAM role ARN"),
        (DeployRoleField, "arn:aws:iam::1234:role/x", "is not an IAM role ARN"),
        (DeployFunctionNameField, "hello world", "is not a Lambda function name"),
        (DeployFunctionNameField, "x" * 65, "is not a Lambda function name"),
        (DeployAliasField, "42", "is not a Lambda alias name"),
        (DeployMemoryField, 64, "use 128 to 10240 MB"),
        (DeployTimeoutField, 901, "use 1 to 900 seconds"),
        (DeployEphemeralStorageField, 256, "use 512 to 10240 MB"),
        (DeployEphemeralStorageField, 10241, "use 512 to 10240 MB"),
    ],
)
def test_invalid_values_fail_naming_target_field_and_fix(field, value, expected) -> None:
    with pytest.raises(InvalidFieldException) as error:
        field(value, ADDRESS)
    message = str(error.value)
    assert message.startswith(f"{ADDRESS}: `{field.alias}={value!r}`")
    assert expected in message and "Fix:" in message


@pytest.mark.parametrize(
    "field, value",
    [
        (DeployRoleField, "arn:aws:iam::123456789012:role/service/gis-lambda"),
        (DeployRoleField, "arn:aws-cn:iam::123456789012:role/gis"),
        (DeployFunctionNameField, "hello-x86_64"),
        (DeployAliasField, "live"),
        (DeployMemoryField, 10240),
        (DeployTimeoutField, 1),
        (DeployEphemeralStorageField, 10240),
    ],
)
def test_valid_values_are_kept(field, value) -> None:
    assert field(value, ADDRESS).value == value


def test_defaults() -> None:
    assert DeployMemoryField(None, ADDRESS).value == 512
    assert DeployTimeoutField(None, ADDRESS).value == 30
    assert DeployEphemeralStorageField(None, ADDRESS).value == 512
    assert DeployRoleField(None, ADDRESS).value is None
