"""End to end: `pants publish` (layers) and `pants experimental-deploy` (functions) against moto.

One scenario on one fixture org and one emulator, in order: errors before anything exists, a dry
run, the first deploy, a no-op rerun, a handler edit, a run broken mid-way and its rerun, a
rollback. Mutating calls are counted where they arrive, at a proxy in front of the emulator.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.aws_emulator import ACCOUNT, REGION, Emulator, Fault, Request, install_moto, start_emulator
from tests.e2e.fixture_repo import FixtureRepo, Result, write_pants_toml

SECRET = "fixture-secret-8c1d2e-must-never-be-logged"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/gis-lambda"
BUCKET = "gis-artifacts"
FUNCTION = "hello-x86_64"
DEPLOY = ("package", "publish", "experimental-deploy", "::")

FILES = {
    "runtimes/BUILD": """
        serverless_runtime(name="x86_64", python_version="3.13", arch="x86_64", glibc="2.34",
                           resolve="fx-x86_64", complete_platform="x86_64.json")
        # An org whose uploads must all go through S3 (the limit a real runtime can lower).
        serverless_runtime(name="x86_64-s3", python_version="3.13", arch="x86_64", glibc="2.34",
                           resolve="fx-x86_64", complete_platform="x86_64-s3.json",
                           max_direct_upload_mb=1)
    """,
    "3rdparty/requirements.txt": "six==1.17.0\npyyaml==6.0.3\nidna==3.10\nbabel==2.17.0\n",
    "3rdparty/BUILD": """
        python_requirements(name="reqs", source="requirements.txt", resolve="fx-x86_64",
                            module_mapping={"pyyaml": ["yaml"]})
    """,
    "layers/base/BUILD": 'serverless_layer(name="base", runtime="//runtimes:x86_64", requirements=["six", "pyyaml"])\n',
    # babel's locale data: a zip of several MiB, over the 1 MiB limit of its runtime.
    "layers/big/BUILD": 'serverless_layer(name="big", runtime="//runtimes:x86_64-s3", requirements=["babel"])\n',
    "functions/hello/BUILD": """
        python_sources(name="src")
        serverless_function(name="hello", handler="handler.py:handler", runtime="//runtimes:x86_64",
                            layers=["//layers/base"], environment={"GREETING": "hi"}, memory_mb=256)
    """,
    "functions/hello/handler.py": """
        import six


        def handler(event, context=None):
            return {"six": six.__version__, "answer": 1}
    """,
}

PUBLISH_SETTINGS = f"""
[serverless-publish]
s3_bucket = "{BUCKET}"
role = "{ROLE}"
# Few attempts: the fault test waits for botocore's backoff to give up.
max_attempts = 3
"""


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Emulator:
    tmp = tmp_path_factory.mktemp("moto")
    emulator = start_emulator(install_moto(tmp / "venv"), tmp / "moto.log")
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    emulator.call("iam", "create_role", RoleName="gis-lambda", AssumeRolePolicyDocument=trust)
    emulator.call("s3", "create_bucket", Bucket=BUCKET)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def repo(tmp_path_factory, emulator: Emulator) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("publish")
    repo = FixtureRepo(tmp / "repo", tmp / "store")
    repo.write(FILES)
    write_pants_toml(repo.root, {"fx-x86_64": "3rdparty/fx-x86_64.lock"})
    with (repo.root / "pants.toml").open("a") as f:
        f.write(PUBLISH_SETTINGS + f'endpoint_url = "{emulator.endpoint}"\n')
    repo.pants("complete-platforms", "runtimes:")
    repo.pants("generate-lockfiles")
    return repo


OUTPUTS: list[str] = []


def run(repo: FixtureRepo, *args: str, check: bool = True, drop: tuple[str, ...] = ()) -> Result:
    """Pants with the AWS environment of a CI job (static keys, a region) minus `drop`; the
    account's own AWS configuration is hidden and instance metadata never asked."""
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAFIXTURE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    unset = ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_SESSION_TOKEN")
    wrap = ["env", *(a for name in unset for a in ("-u", name))]
    wrap += [f"{k}={v}" for k, v in env.items() if k not in drop]
    result = repo.pants(*args, check=check, wrap=tuple(wrap))
    OUTPUTS.append(result.output)
    return result


LAMBDA_CALLS = (
    ("layer_version", "POST", r"/2018-10-31/layers/[^/]+/versions"),
    ("create_function", "POST", r"/2015-03-31/functions"),
    ("code", "PUT", r"/2015-03-31/functions/[^/]+/code"),
    ("config", "PUT", r"/2015-03-31/functions/[^/]+/configuration"),
    ("version", "POST", r"/2015-03-31/functions/[^/]+/versions"),
    ("alias", "POST", r"/2015-03-31/functions/[^/]+/aliases"),
    ("alias", "PUT", r"/2015-03-31/functions/[^/]+/aliases/[^/]+"),
)


def kind(request: Request) -> str:
    path = request.path.split("?")[0]
    for name, method, pattern in LAMBDA_CALLS:
        if request.method == method and re.fullmatch(pattern, path):
            return name
    return "other" if path.startswith("/20") else "s3"


def calls(emulator: Emulator, since: int) -> Counter:
    return Counter(kind(r) for r in emulator.proxy.mutating(since))


def b64_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def layer_versions(emulator: Emulator, name: str) -> list[dict]:
    listed = emulator.call("lambda", "list_layer_versions", LayerName=name)["LayerVersions"]
    return [
        emulator.call("lambda", "get_layer_version", LayerName=name, VersionNumber=v["Version"])
        for v in listed
    ]


def alias_version(emulator: Emulator) -> str:
    return emulator.call("lambda", "get_alias", FunctionName=FUNCTION, Name="live")["FunctionVersion"]


def assert_in(texts: list[str], output: str) -> None:
    for text in texts:
        assert text in output, f"{text!r} not in:\n{output[-5000:]}"


# ---------------------------------------------------------------------------------------------
# The scenario.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, drop, expected",
    [
        (("publish", "layers/base:"), ("AWS_REGION",), ["layers/base:", "no AWS region", "Fix:"]),
        (
            ("publish", "layers/base:"),
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            ["layers/base:", "no AWS credentials found", "Fix:"],
        ),
        (
            ("--serverless-publish-s3-bucket=no-such-bucket", "publish", "layers/big:"),
            (),
            ["layers/big:", "bucket `no-such-bucket` does not exist", "Fix:"],
        ),
    ],
    ids=["region", "credentials", "bucket"],
)
def test_missing_configuration_fails_naming_target_and_fix(repo, emulator, args, drop, expected) -> None:
    since = len(emulator.proxy.log)
    result = run(repo, *args, drop=drop, check=False)
    assert result.returncode != 0
    assert_in(expected, result.output)
    assert emulator.proxy.mutating(since) == []


def test_dry_run_plans_everything_and_changes_nothing(repo, emulator) -> None:
    since = len(emulator.proxy.log)
    result = run(repo, "--serverless-publish-dry-run", "publish", "experimental-deploy", "::")
    assert_in(
        [
            "layers/base:base: [dry run] would: layer base-x86_64: new layer version",
            f"layer big-x86_64-s3: new layer version via s3://{BUCKET}/serverless-gis/",
            "functions/hello:hello: [dry run] would: function hello-x86_64: create function; new version; "
            "alias move live: (new alias) -> new version",
        ],
        result.output,
    )
    assert len(emulator.proxy.log) > since  # the plan read the account
    assert emulator.proxy.mutating(since) == []


def test_first_deploy_publishes_layers_then_creates_function(repo, emulator) -> None:
    # A wrong role: the layers are published, the function fails clearly, nothing else happens.
    since = len(emulator.proxy.log)
    bad_role = f"--serverless-publish-role=arn:aws:iam::{ACCOUNT}:role/missing"
    failed = run(repo, bad_role, *DEPLOY, check=False)
    assert failed.returncode != 0
    assert_in(["functions/hello:", "cannot use the role", "role/missing", "Fix:"], failed.output)
    first = calls(emulator, since)
    assert first["layer_version"] == 2 and first["s3"] >= 1  # the big layer went through S3
    assert set(first) == {"layer_version", "s3"}

    since = len(emulator.proxy.log)
    run(repo, *DEPLOY)
    assert calls(emulator, since) == Counter(create_function=1, version=1, alias=1)

    big = layer_versions(emulator, "big-x86_64-s3")
    assert [v["Content"]["CodeSha256"] for v in big] == [b64_sha256(repo.root / "dist/layers/big/big-x86_64-s3.zip")]
    assert big[0]["CompatibleRuntimes"] == ["python3.13"]
    assert big[0]["CompatibleArchitectures"] == ["x86_64"]
    function = emulator.call("lambda", "get_function_configuration", FunctionName=FUNCTION, Qualifier="live")
    assert function["CodeSha256"] == b64_sha256(repo.root / "dist/functions/hello/hello-x86_64.zip")
    assert function["Handler"] == "handler.handler"
    assert function["MemorySize"] == 256
    assert function["Environment"]["Variables"] == {"GREETING": "hi"}
    assert [layer["Arn"] for layer in function["Layers"]] == [layer_versions(emulator, "base-x86_64")[0]["LayerVersionArn"]]
    record = (repo.root / "dist/functions/hello/hello-x86_64.deployed.json").read_text()
    assert f'"alias_arn": "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}:live"' in record
    assert '"version": "1"' in record


def test_second_run_changes_nothing(repo, emulator) -> None:
    since = len(emulator.proxy.log)
    result = run(repo, *DEPLOY)
    assert calls(emulator, since) == Counter()
    assert_in(["layer base-x86_64: unchanged", "reuse version 1; alias live unchanged at 1"], result.output)


def test_editing_a_handler_updates_code_and_moves_alias_once(repo, emulator) -> None:
    handler = repo.root / "functions/hello/handler.py"
    handler.write_text(handler.read_text().replace('"answer": 1', '"answer": 2'))
    since = len(emulator.proxy.log)
    run(repo, *DEPLOY)
    assert calls(emulator, since) == Counter(code=1, version=1, alias=1)
    assert alias_version(emulator) == "2"


def test_run_broken_mid_way_fails_clearly_and_rerun_converges(repo, emulator) -> None:
    # A new layer for the function and a handler change.
    repo.write({"layers/extra/BUILD": 'serverless_layer(name="extra", runtime="//runtimes:x86_64", requirements=["idna"])\n'})
    build = repo.root / "functions/hello/BUILD"
    build.write_text(build.read_text().replace('layers=["//layers/base"]', 'layers=["//layers/base", "//layers/extra"]'))
    handler = repo.root / "functions/hello/handler.py"
    handler.write_text(handler.read_text().replace('"answer": 2', '"answer": 3'))

    emulator.proxy.faults = [
        # The new layer version is created, but its response is lost: botocore retries.
        Fault(lambda m, p: m == "POST" and p.startswith("/2018-10-31/layers/extra-x86_64/versions"),
              after_forwarding=True, times=1),
        # The network goes away before the alias moves.
        Fault(lambda m, p: "/aliases" in p and m in ("POST", "PUT")),
    ]
    since = len(emulator.proxy.log)
    try:
        failed = run(repo, *DEPLOY, check=False)
    finally:
        emulator.proxy.faults = []
    assert failed.returncode != 0
    assert_in(["functions/hello:", "lost the connection", "run the same command again"], failed.output)
    assert calls(emulator, since) == Counter(layer_version=1, code=1, config=1, version=1)
    assert [r.method for r in emulator.proxy.log[since:] if r.dropped and kind(r) == "layer_version"] == ["POST"]
    assert alias_version(emulator) == "2"  # never half-moved: still the last good version

    since = len(emulator.proxy.log)
    run(repo, *DEPLOY)
    assert calls(emulator, since) == Counter(alias=1)  # everything else was found done

    live = emulator.call("lambda", "get_function_configuration", FunctionName=FUNCTION, Qualifier="live")
    assert live["Version"] == "3"
    assert live["CodeSha256"] == b64_sha256(repo.root / "dist/functions/hello/hello-x86_64.zip")
    assert len(live["Layers"]) == 2
    for name in ("base-x86_64", "big-x86_64-s3", "extra-x86_64"):
        shas = [v["Content"]["CodeSha256"] for v in layer_versions(emulator, name)]
        assert len(shas) == len(set(shas)) == 1, (name, shas)


def test_rollback_moves_the_alias_back_in_one_call(repo, emulator) -> None:
    since = len(emulator.proxy.log)
    result = run(repo, "serverless-rollback", "functions/hello:")
    assert_in(["alias move live: 3 -> 2 (rollback)"], result.output)
    assert calls(emulator, since) == Counter(alias=1)
    assert alias_version(emulator) == "2"


def test_no_secret_in_any_output() -> None:
    assert OUTPUTS
    assert not [output for output in OUTPUTS if SECRET in output]
