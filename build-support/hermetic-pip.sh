# Sourced by host-side scripts that run pip or pex (bootstrap, BuildGrid install): they then read
# none of this machine's pip or pex configuration (global and user pip.conf with their constraint,
# index and find-links lines, PIP_* and PEX_* variables). Every install is hash-pinned; this makes
# sure nothing else decides what pip resolves or where pex caches. Pants' own processes get the same
# through pants.toml's [subprocess-environment].
while IFS='=' read -r name _; do
  case "$name" in PIP_* | PEX_*) unset "$name" ;; esac
done < <(env)
export PIP_CONFIG_FILE=/dev/null
