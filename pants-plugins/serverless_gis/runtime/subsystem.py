"""`[serverless-lockfiles]`: how `generate-lockfiles` changes an existing runtime lockfile."""

from __future__ import annotations

from pants.option.option_types import BoolOption, DictOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class ServerlessLockfilesSubsystem(Subsystem):
    options_scope = "serverless-lockfiles"
    help = help_text(
        """
        Runtime lockfiles (`./pants generate-lockfiles`). An existing lockfile is updated
        minimally (`pex3 lock sync`): a new or changed requirement changes only the projects it
        needs, a removed one drops what nothing else needs, and every other project keeps its
        version, artifacts and hashes.
        """
    )

    upgrade = BoolOption(
        default=False,
        help=help_text(
            """
            Re-resolve runtime lockfiles from scratch instead: every project moves to the newest
            version the requirements allow (which changes the layers holding them). Run as
            `./pants generate-lockfiles --serverless-lockfiles-upgrade --resolve=lock:<resolve>`.
            """
        ),
    )

    sdist_metadata_env = DictOption[str](
        default={},
        help=help_text(
            """
            Environment for building the metadata of the sdists a lock records for a runtime no
            wheel fits (the layer's `python_bindings` build them), e.g. `{"GDAL_VERSION":
            "3.10.3"}`: fiona's setup.py asks `gdal-config` otherwise, which a lock run has not.
            """
        ),
    )
