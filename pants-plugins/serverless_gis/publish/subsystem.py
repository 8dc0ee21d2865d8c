"""`[serverless-publish]`: the boto3 tool that publishes layers and deploys functions, and where to."""

from __future__ import annotations

from pants.backend.python.subsystems.python_tool_base import LockfileRules, PythonToolBase
from pants.backend.python.target_types import EntryPoint
from pants.option.option_types import BoolOption, IntOption, StrOption
from pants.util.strutil import help_text

# The standard credential and region chain of boto3, passed through from the user's environment
# (HOME for ~/.aws/config and ~/.aws/credentials). Values are never logged.
AWS_ENV_VARS = (
    "HOME",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ENDPOINT_URL_S3",
    "AWS_STS_REGIONAL_ENDPOINTS",
)


class ServerlessPublishSubsystem(PythonToolBase):
    options_scope = "serverless-publish"
    name = "serverless-publish"
    help = help_text(
        """
        Publishing `serverless_layer` targets (`publish`) and deploying `serverless_function`
        targets (`experimental-deploy`) to AWS Lambda with boto3. Credentials and region come from
        boto3's standard chain (environment, `AWS_PROFILE`, `~/.aws/config`, web identity,
        container or instance roles). Set these options per stage in a config file given with
        `--pants-config-files` (e.g. `pants.production.toml`) or as `PANTS_SERVERLESS_PUBLISH_*`
        environment variables.
        """
    )

    default_version = "boto3==1.44.5"
    default_main = EntryPoint("lambda_publish", "main")
    default_requirements = ["boto3==1.44.5"]

    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython>=3.10,<3.14"]

    default_lockfile_resource = ("serverless_gis.publish", "serverless_publish.lock")
    lockfile_rules_type = LockfileRules.SIMPLE

    region = StrOption(
        default=None,
        help="AWS region. Default: boto3's chain (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile).",
    )
    endpoint_url = StrOption(
        default=None,
        help=help_text(
            """
            Endpoint URL for Lambda and S3 instead of the public AWS endpoints: a VPC endpoint,
            or an emulator in tests (e.g. `http://127.0.0.1:5000`).
            """
        ),
    )
    s3_bucket = StrOption(
        default=None,
        help=help_text(
            """
            Bucket that zips over the runtime's `max_direct_upload_mb` are uploaded to (key:
            `<s3_prefix><sha256>.zip`, so an upload is never repeated). Required only for such zips.
            """
        ),
    )
    s3_prefix = StrOption(default="serverless-gis/", help="Key prefix in `s3_bucket`.")
    alias = StrOption(
        default="live",
        help="Alias moved to each deployed function version, unless the target sets `alias`.",
    )
    role = StrOption(
        default=None,
        help=help_text(
            """
            Execution role ARN for functions whose target sets no `role` (e.g. one role per
            stage's account).
            """
        ),
    )
    dry_run = BoolOption(
        default=False,
        help=help_text(
            """
            Print, per target, what `publish` or `experimental-deploy` would do (new layer
            version / unchanged / code change / config change / alias move) and change nothing:
            only read calls are made.
            """
        ),
    )
    max_attempts = IntOption(
        default=8,
        advanced=True,
        help="Attempts per AWS call (botocore's `standard` retry mode: throttling, 5xx, dropped connections).",
    )
