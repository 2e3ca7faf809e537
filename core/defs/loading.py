"""`load_assets_from_modules` and friends: collect definitions from modules, as Dagster does."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowdev.defs.assets import AssetsDefinition, AssetSpec
from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetKey
from flowdev.records import is_record

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import ModuleType

    from flowdev.defs.checks import AssetChecksDefinition


def _prefix(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _members(modules: Iterable[ModuleType], kinds: tuple[type, ...]) -> list[Any]:
    found: dict[int, Any] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, kinds):
                found.setdefault(id(value), value)
            elif isinstance(value, (list, tuple)) and not is_record(value):
                for item in value:
                    if isinstance(item, kinds):
                        found.setdefault(id(item), item)
    return list(found.values())


def load_assets_from_modules(
    modules: Iterable[ModuleType],
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    *,
    include_specs: bool = False,
    source_key_prefix: str | Sequence[str] | None = None,
) -> list[AssetsDefinition | AssetSpec]:
    """Every asset defined at the top level of ``modules`` (also in lists there).

    ``key_prefix`` prefixes every loaded key and every dependency on a loaded key;
    ``source_key_prefix`` prefixes dependencies on keys not loaded here; ``group_name``
    moves every loaded asset to that group.
    """
    kinds: tuple[type, ...] = (
        (AssetsDefinition, AssetSpec) if include_specs else (AssetsDefinition,)
    )
    loaded = _members(modules, kinds)
    prefix, source_prefix = _prefix(key_prefix), _prefix(source_key_prefix)
    if not (prefix or source_prefix or group_name):
        return loaded
    own = {
        k
        for item in loaded
        for k in (item.keys if isinstance(item, AssetsDefinition) else (item.key,))
    }
    referenced = {
        k
        for item in loaded
        for parents in (item.parents if isinstance(item, AssetsDefinition) else (item.dep_keys,))
        for k in parents
    }
    key_map: dict[AssetKey, AssetKey] = {}
    if prefix:
        key_map.update({k: k.with_prefix(prefix) for k in own})
    if source_prefix:
        key_map.update({k: k.with_prefix(source_prefix) for k in referenced - own})
    result: list[AssetsDefinition | AssetSpec] = []
    for item in loaded:
        if isinstance(item, AssetsDefinition):
            result.append(item.with_attributes(asset_key_map=key_map, group_name=group_name))
        else:
            result.append(
                item.replace_attributes(
                    key=key_map.get(item.key, item.key),
                    deps=[key_map.get(k, k) for k in item.dep_keys],
                    group_name=group_name or item.group_name,
                )
            )
    return result


def _package_modules(package: ModuleType) -> list[ModuleType]:
    import pkgutil

    modules = [package]
    path = getattr(package, "__path__", None)
    if path is not None:
        for info in pkgutil.walk_packages(path, prefix=package.__name__ + "."):
            modules.append(importlib.import_module(info.name))
    return modules


def load_assets_from_package_module(
    package_module: ModuleType,
    group_name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    *,
    include_specs: bool = False,
    source_key_prefix: str | Sequence[str] | None = None,
) -> list[AssetsDefinition | AssetSpec]:
    """`load_assets_from_modules` over a package and every module below it."""
    return load_assets_from_modules(
        _package_modules(package_module),
        group_name,
        key_prefix,
        include_specs=include_specs,
        source_key_prefix=source_key_prefix,
    )


def load_assets_from_package_name(
    package_name: str, group_name: str | None = None, key_prefix: str | Sequence[str] | None = None
) -> list[AssetsDefinition | AssetSpec]:
    """`load_assets_from_package_module` by the package's import name."""
    return load_assets_from_package_module(
        importlib.import_module(package_name), group_name, key_prefix
    )


def load_assets_from_current_module(
    group_name: str | None = None, key_prefix: str | Sequence[str] | None = None
) -> list[AssetsDefinition | AssetSpec]:
    """`load_assets_from_modules` over the module that calls it."""
    import inspect

    frame = inspect.stack()[1].frame
    module = inspect.getmodule(frame)
    if module is None:
        raise InvalidDefinitionError(
            "load_assets_from_current_module() must be called at the top level of a module"
        )
    return load_assets_from_modules([module], group_name, key_prefix)


def load_asset_checks_from_modules(modules: Iterable[ModuleType]) -> list[AssetChecksDefinition]:
    """Every asset check defined at the top level of ``modules``."""
    from flowdev.defs.checks import AssetChecksDefinition

    return _members(modules, (AssetChecksDefinition,))


def load_asset_checks_from_package_module(
    package_module: ModuleType,
) -> list[AssetChecksDefinition]:
    """Every asset check in a package and the modules below it."""
    return load_asset_checks_from_modules(_package_modules(package_module))
