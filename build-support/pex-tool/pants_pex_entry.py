"""Entry point of the pex tool PEX that Pants runs (see bootstrap-pex-tool.sh).

Pants passes the tool its cache as PEX_ROOT (a named cache) and its own interpreter as PEX_PYTHON.
A PEX normally strips every PEX_* variable before its entry point runs, so pex would cache in the
account's ~/.cache/pex, outside Pants' caches and shared by every repo and test on the machine.
This PEX keeps its environment (--no-strip-pex-env) and drops here every PEX_* variable but
PEX_ROOT: the others were for booting this PEX and must not reach the PEXes pex builds and runs.
"""

import os


def main():
    for name in [n for n in os.environ if n.startswith("PEX_") and n != "PEX_ROOT"]:
        del os.environ[name]
    from pex.bin.pex import main as pex_main

    return pex_main()
