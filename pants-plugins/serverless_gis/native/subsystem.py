from __future__ import annotations

from pants.option.option_types import StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class NativeBuildSubsystem(Subsystem):
    options_scope = "native-build"
    help = "Options for native builds in toolchain images."

    docker_host = StrOption(
        default=None,
        help=help_text(
            """
            The Docker daemon native builds use, as `DOCKER_HOST` (e.g. `unix:///run/docker.sock`
            or `tcp://builder:2375`). Unset: the docker CLI's default. Only builds that miss
            every cache need a daemon.
            """
        ),
    )
