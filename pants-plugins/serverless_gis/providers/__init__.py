"""Runtime models, one module per provider: where a provider mounts layers, functions and the
interpreter, the environment it sets, its limits and how the emulation runs a handler.
Adding a provider is adding a module and listing it in `PROVIDERS`."""

from __future__ import annotations

from serverless_gis.providers import aws_lambda
from serverless_gis.providers.model import RuntimeModel

PROVIDERS: dict[str, RuntimeModel] = {aws_lambda.MODEL.provider: aws_lambda.MODEL}


def runtime_model(provider: str) -> RuntimeModel:
    return PROVIDERS[provider]
