"""AWS Lambda's Python runtimes (Amazon Linux 2023): paths, environment and limits as documented
for the managed runtimes and as the Lambda base images set them."""

from __future__ import annotations

from serverless_gis.providers.model import Limits, RuntimeModel

MODEL = RuntimeModel(
    provider="aws",
    layer_root="/opt",
    layer_python_dir="python",
    task_root="/var/task",
    interpreter_prefix="/var/lang",
    environment=(
        (
            "LD_LIBRARY_PATH",
            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        ),
        ("PATH", "/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python{python}"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_LAMBDA_FUNCTION_NAME", "local-function"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", "900"),
        ("HOME", "/tmp"),
    ),
    limits=Limits(max_unzipped_mb=250, max_layers=5, max_direct_upload_mb=50),
    sandbox_user="993:990",
    read_only_root=True,
    tmpfs="/tmp:rw,exec,size=512m",
    # arm64 functions run on Graviton2 (Arm Neoverse N1 cores).
    cpus=(("aarch64", "neoverse-n1"),),
)
