"""For host tools (lambda-run.sh, benchmarks): print a provider's `docker run` options, one per line.

    python3 -m serverless_gis.providers aws 3.13
"""

from __future__ import annotations

import sys

from serverless_gis.providers import runtime_model

provider, python = sys.argv[1], sys.argv[2]
major, minor = (int(p) for p in python.split(".")[:2])
print("\n".join(runtime_model(provider).docker_run_args((major, minor))))
