"""Typed fields without pydantic: validation messages, immutability, EnvVar, Config, RunConfig."""

import enum
import subprocess
import sys
from typing import Any, Literal

import pytest
from flowdev.errors import ConfigError, EnvVarError
from flowdev.resources.config import Config, EnvVar, PrivateAttr, RunConfig, config_for


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


class Inner(Config):
    limit: int
    mode: Literal["fast", "safe"] = "safe"


class Settings(Config):
    name: str
    ratio: float = 1.0
    enabled: bool = False
    label: str | None = None
    tags: list[str] = []
    weights: dict[str, float] = {}
    pair: tuple[int, str] = (0, "")
    color: Color = Color.RED
    inner: Inner | None = None
    anything: Any = None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": 5}, "Settings.name: expected str, got int (5)"),
        ({}, "Settings: missing required field 'name' (str). Pass it: Settings(name=...)."),
        ({"name": "a", "ratio": "x"}, "Settings.ratio: expected float, got 'x'"),
        ({"name": "a", "ratio": True}, "Settings.ratio: expected float, got bool (True)"),
        ({"name": "a", "enabled": 1}, "Settings.enabled: expected bool, got int (1)"),
        ({"name": "a", "label": 3}, "Settings.label: expected str | None, got int (3)"),
        ({"name": "a", "tags": "abc"}, "Settings.tags: expected list[str], got 'abc'"),
        ({"name": "a", "tags": ["x", 2]}, "Settings.tags[1]: expected str, got int (2)"),
        ({"name": "a", "weights": {"w": "h"}}, "Settings.weights['w']: expected float, got 'h'"),
        ({"name": "a", "pair": (1,)}, "Settings.pair: expected 2 items (tuple[int, str]), got 1"),
        ({"name": "a", "pair": ("1", "x")}, "Settings.pair[0]: expected int, got '1'"),
        (
            {"name": "a", "color": "BLUE"},
            "Settings.color: expected one of Color's members 'RED', 'GREEN', got 'BLUE'",
        ),
        ({"name": "a", "inner": {"limit": "ten"}}, "Settings.inner.limit: expected int, got 'ten'"),
        (
            {"name": "a", "inner": {"limit": 1, "mode": "slow"}},
            "Settings.inner.mode: expected one of 'fast', 'safe', got 'slow'",
        ),
        (
            {"name": "a", "inner": {}},
            "Settings.inner: missing required field 'limit' (int). Pass it: Inner(limit=...).",
        ),
        (
            {"nme": "a"},
            "Settings: unknown field 'nme'. Did you mean 'name'? Settings has fields: name, ratio,",
        ),
    ],
)
def test_validation_errors_name_the_class_and_field(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(**values)
    assert str(caught.value).startswith(message)


def test_values_are_converted_where_lenient_and_nested_config_comes_from_a_dict() -> None:
    settings = Settings(
        name="a", ratio=2, pair=[3, "x"], color="GREEN", inner={"limit": 4}, anything=object
    )
    assert settings.ratio == 2.0 and isinstance(settings.ratio, float)
    assert settings.pair == (3, "x")
    assert settings.color is Color.GREEN
    assert Settings(name="a", color="g").color is Color.GREEN  # by value, as pydantic does
    assert settings.inner == Inner(limit=4, mode="safe")
    assert settings.anything is object


def test_mutable_defaults_are_not_shared_between_instances() -> None:
    first, second = Settings(name="a"), Settings(name="b")
    assert first.tags == [] and first.tags is not second.tags


def test_instances_are_immutable_but_private_attributes_are_settable() -> None:
    settings = Settings(name="a")
    with pytest.raises(AttributeError, match="Settings is immutable: cannot set 'name'"):
        settings.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete 'name'"):
        del settings.name
    settings._cache = 1
    assert settings._cache == 1 and settings.name == "a"


def test_private_attr_default_factory_and_unset() -> None:
    class Holder(Config):
        size: int = 1
        _client: object = PrivateAttr()
        _calls: list[int] = PrivateAttr(default_factory=list)
        _mode: str = PrivateAttr("cold")

    holder = Holder()
    assert holder._mode == "cold"
    assert holder._calls == [] and holder._calls is not Holder()._calls
    with pytest.raises(AttributeError, match=r"Holder\._client is not set yet"):
        _ = holder._client
    holder._client = "conn"
    assert holder._client == "conn"
    assert repr(holder) == "Holder(size=1)"


def test_equality_hash_and_repr() -> None:
    assert Inner(limit=1) == Inner(limit=1)
    assert Inner(limit=1) != Inner(limit=2)
    assert hash(Inner(limit=1)) == hash(Inner(limit=1))
    assert repr(Inner(limit=1)) == "Inner(limit=1, mode='safe')"


def test_fields_and_defaults_are_inherited_and_overridable() -> None:
    class Base(Config):
        a: int
        b: str = "base"

    class Child(Base):
        b: str = "child"
        c: bool = True

    assert Child(a=1) == Child(a=1, b="child", c=True)
    with pytest.raises(ConfigError, match="Child: missing required field 'a'"):
        Child()


def test_fields_are_read_on_first_construction_not_at_class_definition() -> None:
    class Lazy(Config):
        a: int = 1

    assert "_flowdev_field_cache" not in Lazy.__dict__
    Lazy()
    assert set(Lazy.__dict__["_flowdev_field_cache"]) == {"a"}


def test_string_annotations_may_name_classes_local_to_a_function() -> None:
    class LocalInner(Config):
        x: int

    class LocalOuter(Config):
        inner: "LocalInner"

    assert LocalOuter(inner={"x": 1}).inner == LocalInner(x=1)


def test_pydantic_field_and_private_attr_are_understood() -> None:
    pydantic = pytest.importorskip("pydantic")

    class WithPydantic(Config):
        size: int = pydantic.Field(default=3, description="rows")
        items: list[int] = pydantic.Field(default_factory=list)
        _conn: Any = pydantic.PrivateAttr(default=None)

    value = WithPydantic()
    assert (value.size, value.items, value._conn) == (3, [], None)


def test_env_var_is_a_named_placeholder_that_never_shows_a_value() -> None:
    var = EnvVar("DB_PASSWORD")
    assert var.env_var_name == "DB_PASSWORD"
    assert repr(var) == "EnvVar('DB_PASSWORD')"
    assert repr(EnvVar.int("PORT")) == "EnvVar.int('PORT')"
    with pytest.raises(ConfigError, match=r"EnvVar\('DB_PASSWORD'\) has no value until a run"):
        str(var)
    with pytest.raises(ConfigError, match=r"EnvVar.int\('PORT'\) has no value"):
        int(EnvVar.int("PORT"))


def test_env_var_get_value_reads_the_real_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWDEV_TEST_PORT", "5433")
    assert EnvVar("FLOWDEV_TEST_PORT").get_value() == "5433"
    assert EnvVar.int("FLOWDEV_TEST_PORT").get_value() == 5433
    assert EnvVar("FLOWDEV_TEST_UNSET").get_value("x") == "x"


def test_env_var_is_accepted_by_scalar_fields_only() -> None:
    settings = Settings(name=EnvVar("NAME"), ratio=EnvVar("RATIO"), enabled=EnvVar("ON"))
    assert repr(settings).startswith("Settings(name=EnvVar('NAME'), ratio=EnvVar('RATIO')")
    with pytest.raises(ConfigError, match=r"Settings.name: expected str, got IntEnvVar"):
        Settings(name=EnvVar.int("N"))
    with pytest.raises(ConfigError, match=r"Settings\.color: expected one of"):
        Settings(name="a", color=EnvVar("C"))


def test_from_run_config_validates_with_run_config_paths() -> None:
    class Orders(Config):
        limit: int
        inner: Inner | None = None

    run_config = {"ops": {"orders": {"config": {"limit": "ten"}}}}
    with pytest.raises(
        ConfigError, match=r"^run_config ops.orders.config.limit: expected int, got 'ten'$"
    ):
        Orders.from_run_config(run_config, "orders")
    nested = {"ops": {"orders": {"config": {"limit": 1, "inner": {"limit": []}}}}}
    with pytest.raises(
        ConfigError, match=r"^run_config ops.orders.config.inner.limit: expected int"
    ):
        Orders.from_run_config(nested, "orders")
    with pytest.raises(ConfigError) as missing:
        Orders.from_run_config(None, "orders")
    assert str(missing.value) == (
        "run_config ops.orders.config: missing required field 'limit' (int). "
        "Add it under ops.orders.config in the run config."
    )
    with pytest.raises(
        ConfigError, match=r"run_config ops.orders: unknown key 'confg'. Did you mean 'config'\?"
    ):
        Orders.from_run_config({"ops": {"orders": {"confg": {}}}}, "orders")
    assert (
        Orders.from_run_config({"ops": {"orders": {"config": {"limit": 3}}}}, "orders").limit == 3
    )


def test_run_config_reads_env_vars_when_the_config_is_built() -> None:
    class Creds(Config):
        user: str
        port: int = 0

    run_config = {
        "ops": {"load": {"config": {"user": {"env": "DB_USER"}, "port": EnvVar.int("P")}}}
    }
    creds = Creds.from_run_config(run_config, "load", env={"DB_USER": "ann", "P": "15"})
    assert (creds.user, creds.port) == ("ann", 15)
    assert "ann" not in repr(creds) and "EnvVar('DB_USER')" in repr(creds)
    with pytest.raises(EnvVarError) as caught:
        Creds.from_run_config(run_config, "load", env={"P": "1"})
    assert str(caught.value) == (
        "run_config ops.load.config.user reads the environment variable DB_USER, which is not set."
        " Set it, or give the field a value."
    )


def test_run_config_object_keeps_config_instances_and_converts_to_a_dict() -> None:
    run_config = RunConfig(
        ops={"orders": Inner(limit=2), "raw": {"config": {"x": 1}}},
        resources={"db": {"config": {"url": EnvVar("URL")}}},
    )
    assert config_for(run_config, "orders", Inner) == Inner(limit=2)
    assert config_for(run_config, "orders") == {"limit": 2, "mode": "safe"}
    assert config_for(run_config, "raw") == {"x": 1}
    assert config_for(run_config, "absent") is None
    assert run_config.to_config_dict() == {
        "ops": {"orders": {"config": {"limit": 2, "mode": "safe"}}, "raw": {"config": {"x": 1}}},
        "resources": {"db": {"config": {"url": EnvVar("URL")}}},
        "loggers": {},
        "execution": {},
    }
    assert config_for(run_config.to_config_dict(), "orders", Inner) == Inner(limit=2)


def test_importing_the_config_machinery_never_imports_pydantic() -> None:
    code = "import sys, flowdev.resources.resource; sys.exit('pydantic' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
