"""Which native components' SPDX licence expressions an allow-list permits (license-expression).

`A AND B` needs both allowed, `A OR B` one of them; `L WITH E` is allowed when the allow-list names
`L WITH E` or `L` itself (an exception only adds permissions). Ids compare case-insensitively, in
their canonical SPDX spelling; `LicenseRef-*` ids are the repository's own.
"""

from __future__ import annotations

from license_expression import ExpressionError, LicenseSymbol, LicenseWithExceptionSymbol, get_spdx_licensing

LICENSING = get_spdx_licensing()
LICENSE_REF = "LicenseRef-"


class NotSpdx(Exception):
    pass


def parse(expression: str):
    try:
        parsed = LICENSING.parse(expression, strict=True)
    except ExpressionError as e:
        raise NotSpdx(str(e)) from e
    if parsed is None:
        raise NotSpdx("it is empty")
    unknown = [k for k in LICENSING.unknown_license_keys(parsed) if not k.startswith(LICENSE_REF)]
    if unknown:
        raise NotSpdx(f"not on the SPDX licence list: {', '.join(unknown)}")
    return parsed


def is_single(node) -> bool:
    return isinstance(node, (LicenseSymbol, LicenseWithExceptionSymbol))


def leaf_id(node) -> str:
    if isinstance(node, LicenseWithExceptionSymbol):
        return f"{node.license_symbol.key} WITH {node.exception_symbol.key}"
    return node.key


def denied(node, allowed: set[str]) -> list[str]:
    """The licences of `node` that keep it from being allowed (none: allowed)."""
    if isinstance(node, LicenseWithExceptionSymbol):
        ok = leaf_id(node).lower() in allowed or node.license_symbol.key.lower() in allowed
        return [] if ok else [leaf_id(node)]
    if isinstance(node, LicenseSymbol):
        return [] if node.key.lower() in allowed else [node.key]
    parts = [denied(arg, allowed) for arg in node.args]
    if isinstance(node, LICENSING.OR) and any(not part for part in parts):
        return []
    return [leaf for part in parts for leaf in part]


def evaluate(job: dict) -> dict:
    """job: {"allowed": [...], "opt_in": [...], "components": [{"address", "license"}]}."""
    allowed: set[str] = set()
    allow_list_errors = []
    for source in ("allowed", "opt_in"):
        for entry in job[source]:
            try:
                node = parse(entry)
                if not is_single(node):
                    raise NotSpdx("an expression, not one licence id")
            except NotSpdx as e:
                allow_list_errors.append({"source": source, "entry": entry, "error": str(e)})
                continue
            allowed.add(leaf_id(node).lower())
    components = []
    for component in job["components"]:
        verdict = {"address": component["address"], "license": component["license"]}
        try:
            node = parse(component["license"])
        except NotSpdx as e:
            verdict.update(status="invalid", error=str(e))
        else:
            leaves = sorted(set(denied(node, allowed)))
            verdict.update(status="denied" if leaves else "allowed", denied=leaves)
        components.append(verdict)
    return {"allow_list_errors": allow_list_errors, "components": components}
