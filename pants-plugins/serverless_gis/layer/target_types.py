"""The `serverless_layer` target: Python distributions (and later natives) shared by functions."""

from __future__ import annotations

from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringField,
    IntField,
    InvalidFieldException,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text
from serverless_gis.licenses.target_types import LayerAllowedLicensesField
from serverless_gis.references import RuntimeReferenceField, TargetReferencesField, Variants

# Never needed at run time; `tests/` and `test/` directories go too.
DEFAULT_LAYER_PRUNE = (
    "/bin/",
    "tests/",
    "test/",
    "__pycache__/",
    "*.pyc",
    "*.pyi",
    "py.typed",
    "*.pxd",
    "*.pyx",
    "*.c",
    "*.cpp",
    "*.h",
    "*.hpp",
    "*.md",
    "*.rst",
    "*.dist-info/RECORD",
    "*.dist-info/INSTALLER",
    "*.dist-info/REQUESTED",
    "*.dist-info/direct_url.json",
    "*.a",
    # numpy's SIMD test module (3 MiB), imported by numpy's own tests only
    "/numpy/_core/_simd.*",
)

# Native install trees (paths from the layer root): what only matters when compiling against
# them, and programs nothing runs on Lambda (`gdal-config`, curl's `wcurl`, the SQLite shell PROJ's
# build uses, shell completions).
DEFAULT_NATIVE_PRUNE = (
    "/include/",
    "pkgconfig/",
    "cmake/",
    "*.a",
    "*.la",
    "/share/man/",
    "/share/doc/",
    "/bin/*",
    "/share/bash-completion/",
)


class LayerRuntimeField(RuntimeReferenceField):
    help = help_text(
        """
        Address of the `serverless_runtime` this layer is built for. Use
        `parametrize(x86_64="//runtimes:aws-py313-x86_64", arm64="//runtimes:aws-py313-arm64")`
        to build one layer per runtime; functions pick the variant for their own runtime.
        """
    )


class LayerRequirementsField(StringSequenceField):
    alias = "requirements"
    default = ()
    help = help_text(
        """
        Python requirements the layer provides, e.g. `["numpy", "pyproj"]`. Versions come from
        the runtime's lockfile; a specifier here must agree with it.
        """
    )


class LayerNativesField(TargetReferencesField):
    alias = "natives"
    expected_alias = "native_library"
    noun = "native library"
    variants = Variants.SAME_ARCH
    help = help_text(
        """
        `native_library` targets whose install trees (with their native dependencies; each the
        variant built for the layer's runtime's arch) go into the layer: `lib/` lands on `/opt/lib` (Lambda's LD_LIBRARY_PATH) and `share/` on
        `/opt/share`, the data paths compiled into the libraries.
        """
    )


class LayerBindingsField(TargetReferencesField):
    alias = "bindings"
    expected_alias = "python_bindings"
    noun = "bindings"
    variants = Variants.ONLY_SAME_RUNTIME
    help = help_text(
        """
        `python_bindings` targets whose wheels replace the lockfile's distributions of the same
        projects (e.g. shapely, pyproj, rasterio, fiona built against one shared GDAL/PROJ/GEOS).
        Their native libraries join `natives`, so the layer holds one copy of each. Bindings
        apply to the layer variant of their own `runtime`; other variants use the lockfile's wheels.
        """
    )


class LayerBaseLayersField(TargetReferencesField):
    alias = "base_layers"
    expected_alias = "serverless_layer"
    noun = "base layer"
    owner_noun = "layer"
    variants = Variants.SAME_RUNTIME
    help = help_text(
        """
        Layers this one is stacked on, mounted before it. Distributions they provide (and their
        own base layers provide) are left out of this layer, as a function leaves out what its
        layers provide; a version they ship that this layer's lockfile does not pin fails the
        build. A function listing this layer gets its base layers too, first.
        """
    )


class LayerResolveField(StringField):
    alias = "resolve"
    help = help_text(
        """
        The `[python].resolves` entry the layer's requirements are locked in. Default: the
        runtime's resolve. A platform team may lock a layer on its own; `generate-lockfiles`
        then locks that resolve for the layer's runtime platform, and functions whose own
        resolve disagrees with the layer fail with a version conflict.
        """
    )


class LayerSizeBudgetMbField(IntField):
    alias = "size_budget_mb"
    help = "Largest unzipped size, in MiB, this layer may have. Default: the runtime's limit."


class LayerPruneField(StringSequenceField):
    alias = "prune"
    default = ()
    help = help_text(
        f"""
        Patterns of files left out of the layer's Python tree, added to the defaults; `!PATTERN`
        removes a default one, of the Python tree or of the native tree (e.g. `!/bin/*` to
        ship `gdal-config`). `name/` drops every directory of that name, `/name/` only the top-level
        one (console scripts in `/bin/` would carry a build machine's shebang), `a/b/` a `b` directory
        inside an `a` one anywhere (each segment fnmatch); other patterns match a file name or its
        whole path (fnmatch). Pruning never breaks an import: a pruned module that a shipped module
        imports (by an import statement anywhere in its source, or `importlib.import_module` with a
        literal name) ships anyway, with its packages, transitively (the build report lists them
        under `kept_for_imports`). Licence files (`share/licenses/`, a distribution's
        `*.dist-info/licenses/`, `LICENSE*`, `COPYING*`, `NOTICE*`, `AUTHORS*`) are never pruned.
        Python defaults: {", ".join(f"`{p}`" for p in DEFAULT_LAYER_PRUNE)}. Native defaults (paths
        from the layer root): {", ".join(f"`{p}`" for p in DEFAULT_NATIVE_PRUNE)}.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address) -> tuple[str, ...]:
        entries = super().compute_value(raw_value, address) or ()
        defaults = (*DEFAULT_LAYER_PRUNE, *DEFAULT_NATIVE_PRUNE)
        unknown = [e[1:] for e in entries if e.startswith("!") and e[1:] not in defaults]
        if unknown:
            raise InvalidFieldException(
                f"{address}: `prune` removes `{unknown[0]}`, which is not a default pattern. "
                f"Fix: remove only defaults ({', '.join(defaults)}); to stop pruning a "
                "pattern you added, delete it."
            )
        return tuple(entries)

    def python_patterns(self) -> tuple[str, ...]:
        """The defaults this layer keeps, then the patterns it adds."""
        entries = self.value or ()
        added = [e for e in entries if not e.startswith("!") and e not in DEFAULT_LAYER_PRUNE]
        return (*(p for p in DEFAULT_LAYER_PRUNE if "!" + p not in entries), *added)

    def native_patterns(self) -> tuple[str, ...]:
        return tuple(p for p in DEFAULT_NATIVE_PRUNE if "!" + p not in (self.value or ()))


class LayerBytecodeField(StringField):
    alias = "bytecode"
    default = "sourceless"
    valid_choices = ("sourceless", "alongside", "none")
    help = help_text(
        """
        `sourceless`: ship precompiled `.pyc` in place of `.py` (smallest, still fast: Lambda's
        `/opt` is read-only, so bytecode cannot be written at run time). `alongside`: keep
        `.py` with `__pycache__`. `none`: sources only (slower cold starts).
        """
    )


class LayerEnvironmentField(DictStringToStringField):
    alias = "environment"
    help = "Environment variables functions using this layer need; recorded in their manifests."


class LayerDependenciesField(Dependencies):
    help = help_text(
        """
        Extra dependencies. The targets named by `runtime`, `natives`, `bindings` and
        `base_layers` are dependencies already (the `bindings` of this layer's runtime only).
        """
    )


class ServerlessLayerTarget(Target):
    alias = "serverless_layer"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        LayerRuntimeField,
        LayerRequirementsField,
        LayerNativesField,
        LayerBindingsField,
        LayerBaseLayersField,
        LayerResolveField,
        LayerSizeBudgetMbField,
        LayerPruneField,
        LayerBytecodeField,
        LayerEnvironmentField,
        LayerAllowedLicensesField,
        LayerDependenciesField,
    )
    help = help_text(
        """
        A layer zip for one runtime (`python/` on sys.path under `/opt`), pruned, precompiled
        and byte-for-byte reproducible, so its sha256 identifies it.
        """
    )
