"""Resources: validation, EnvVar resolution at run start, configure_at_launch, lifecycle,
secret redaction, and the IOManager multiple-inheritance case."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flowdev.errors import (
    ConfigError,
    EnvVarError,
    ExecutionError,
    MissingResourceError,
)
from flowdev.resources.config import Config, EnvVar, PrivateAttr, RunConfig
from flowdev.resources.env import redact
from flowdev.resources.lifecycle import resolve_resources, resource_lifecycle, secret_values
from flowdev.resources.resource import (
    ConfigurableResource,
    ConfigurableResourceFactory,
    Field,
    InitResourceContext,
    ResourceDefinition,
    build_init_resource_context,
    resource,
)


class Warehouse(ConfigurableResource):
    path: str
    port: int = 5432
    timeout: float = 1.5
    read_only: bool = False
    schema_name: str = "main"


class Options(Config):
    token: str
    retries: int = 3


class Service(ConfigurableResource):
    warehouse: Warehouse
    options: Options
    name: str = "svc"


ENV = {"WAREHOUSE_PATH": "/srv/s3cr3t-path", "PORT": "6543", "TOKEN": "tok-XYZ-123"}


def test_resource_fields_validate_like_config() -> None:
    with pytest.raises(ConfigError, match=r"^Warehouse.path: expected str, got int \(5\)$"):
        Warehouse(path=5)
    with pytest.raises(ConfigError, match=r"unknown field 'pth'\. Did you mean 'path'\?"):
        Warehouse(pth="x")
    with pytest.raises(ConfigError, match=r"Service.warehouse: expected Warehouse, got dict"):
        Service(warehouse={"path": "x"}, options={"token": "t"})
    with pytest.raises(AttributeError, match="Warehouse is immutable"):
        Warehouse(path="x").path = "y"  # type: ignore[misc]


def test_env_vars_are_read_at_resolution_and_converted_to_the_field_type() -> None:
    warehouse = Warehouse(
        path=EnvVar("WAREHOUSE_PATH"),
        port=EnvVar.int("PORT"),
        timeout=EnvVar("TIMEOUT"),
        read_only=EnvVar("RO"),
    )
    env = {**ENV, "TIMEOUT": "2.5", "RO": "true"}
    resolved = resolve_resources({"warehouse": warehouse}, env=env)["warehouse"]
    assert (resolved.path, resolved.port, resolved.timeout, resolved.read_only) == (
        "/srv/s3cr3t-path",
        6543,
        2.5,
        True,
    )
    assert type(resolved.port) is int
    assert warehouse.path == EnvVar("WAREHOUSE_PATH")  # the definition is left as it was
    for text in (repr(resolved), str(resolved), repr({"w": resolved})):
        assert "s3cr3t" not in text and "6543" not in text
    assert repr(resolved) == (
        "Warehouse(path=EnvVar('WAREHOUSE_PATH'), port=EnvVar.int('PORT'),"
        " timeout=EnvVar('TIMEOUT'), read_only=EnvVar('RO'), schema_name='main')"
    )


def test_env_vars_are_read_from_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWDEV_TEST_WAREHOUSE", "/from/environ")
    resolved = resolve_resources({"warehouse": Warehouse(path=EnvVar("FLOWDEV_TEST_WAREHOUSE"))})
    assert resolved["warehouse"].path == "/from/environ"


def test_a_missing_env_var_names_the_variable_resource_and_field() -> None:
    with pytest.raises(EnvVarError) as caught:
        resolve_resources({"warehouse": Warehouse(path=EnvVar("WAREHOUSE_PATH"))}, env={})
    assert str(caught.value) == (
        "resource 'warehouse' field 'path' reads the environment variable WAREHOUSE_PATH,"
        " which is not set. Set it, or give the field a value."
    )


def test_a_class_default_does_not_stand_in_for_an_unset_env_var() -> None:
    # Dagster fails the run here rather than silently using the default.
    with pytest.raises(EnvVarError, match="field 'schema_name' reads the environment variable S"):
        resolve_resources({"w": Warehouse(path="p", schema_name=EnvVar("S"))}, env={})


@pytest.mark.parametrize(
    ("field", "var", "what"),
    [
        ("port", EnvVar.int("PORT"), "an int"),
        ("port", EnvVar("PORT"), "an int"),
        ("timeout", EnvVar("PORT"), "a number"),
        ("read_only", EnvVar("PORT"), "a boolean"),
    ],
    ids=["EnvVar.int", "EnvVar-int", "EnvVar-float", "EnvVar-bool"],  # str(EnvVar.int) raises
)
def test_a_bad_env_value_is_reported_without_showing_it(field: str, var: Any, what: str) -> None:
    warehouse = Warehouse(path="p", **{field: var})
    with pytest.raises(ConfigError) as caught:
        resolve_resources({"warehouse": warehouse}, env={"PORT": "hunter2"})
    message = str(caught.value)
    assert message.startswith(
        f"resource 'warehouse' field '{field}' reads the environment variable PORT, which is not"
        f" {what} (its value is not shown: it may be a secret)."
    )
    assert "hunter2" not in message
    assert caught.value.__suppress_context__  # the ValueError quoting the value stays hidden


def test_nested_resources_resolve_depth_first_and_name_the_nested_field() -> None:
    service = Service(
        warehouse=Warehouse(path=EnvVar("WAREHOUSE_PATH")), options={"token": EnvVar("TOKEN")}
    )
    resolved = resolve_resources({"service": service}, env=ENV)["service"]
    assert resolved.warehouse.path == "/srv/s3cr3t-path"
    assert resolved.options.token == "tok-XYZ-123"
    assert "s3cr3t" not in repr(resolved) and "XYZ" not in repr(resolved)
    with pytest.raises(EnvVarError, match=r"^resource 'service' field 'warehouse.path' reads"):
        resolve_resources({"service": service}, env={"TOKEN": "t"})
    with pytest.raises(EnvVarError, match=r"^resource 'service' field 'options.token' reads"):
        resolve_resources({"service": service}, env={"WAREHOUSE_PATH": "p"})


def test_a_resource_shared_with_a_top_level_key_resolves_once() -> None:
    warehouse = Warehouse(path=EnvVar("WAREHOUSE_PATH"))
    service = Service(warehouse=warehouse, options=Options(token="t"))
    resolved = resolve_resources({"service": service, "warehouse": warehouse}, env=ENV)
    assert resolved["service"].warehouse is resolved["warehouse"]
    # Its errors name its own key, where the user can fix it.
    with pytest.raises(EnvVarError, match=r"^resource 'warehouse' field 'path'"):
        resolve_resources({"service": service, "warehouse": warehouse}, env={})


def test_configure_at_launch_takes_its_config_from_run_config() -> None:
    partial = Warehouse.configure_at_launch(schema_name="raw")
    assert repr(partial) == "Warehouse.configure_at_launch(schema_name='raw')"
    run_config = {"resources": {"warehouse": {"config": {"path": {"env": "WAREHOUSE_PATH"}}}}}
    resolved = resolve_resources({"warehouse": partial}, env=ENV, run_config=run_config)
    assert resolved["warehouse"] == Warehouse(path="/srv/s3cr3t-path", schema_name="raw")
    assert "s3cr3t" not in repr(resolved["warehouse"])
    via_object = RunConfig(resources={"warehouse": {"config": {"path": "/p"}}})
    assert (
        resolve_resources({"warehouse": partial}, run_config=via_object)["warehouse"].path == "/p"
    )


def test_configure_at_launch_errors_say_where_the_config_goes() -> None:
    partial = Warehouse.configure_at_launch()
    with pytest.raises(ConfigError) as missing:
        resolve_resources({"warehouse": partial}, env={})
    assert str(missing.value) == (
        "run_config resources.warehouse.config: missing required field 'path' (str)."
        " Add it under resources.warehouse.config in the run config."
    )
    bad = {"resources": {"warehouse": {"config": {"path": "p", "prot": 1}}}}
    with pytest.raises(ConfigError, match=r"config: unknown field 'prot'. Did you mean 'port'\?"):
        resolve_resources({"warehouse": partial}, env={}, run_config=bad)
    typed = {"resources": {"warehouse": {"config": {"path": "p", "port": "x"}}}}
    with pytest.raises(
        ConfigError, match=r"^run_config resources.warehouse.config.port: expected int"
    ):
        resolve_resources({"warehouse": partial}, env={}, run_config=typed)
    with pytest.raises(ConfigError, match=r"^Warehouse: unknown field 'pth'"):
        Warehouse.configure_at_launch(pth="x")


def test_a_nested_partial_must_also_be_a_top_level_resource() -> None:
    partial = Warehouse.configure_at_launch()
    service = Service(warehouse=partial, options=Options(token="t"))
    with pytest.raises(ConfigError, match="only as a top-level resource"):
        resolve_resources({"service": service}, env={})
    run_config = {"resources": {"warehouse": {"config": {"path": "/launch"}}}}
    resolved = resolve_resources(
        {"service": service, "warehouse": partial}, env={}, run_config=run_config
    )
    assert resolved["service"].warehouse.path == "/launch"
    assert resolved["service"].warehouse is resolved["warehouse"]


def test_run_config_can_override_a_configured_resource_and_rejects_unknown_keys() -> None:
    resources = {"warehouse": Warehouse(path="/a"), "cache": {"plain": "dict"}}
    run_config = {"resources": {"warehouse": {"config": {"port": 1}}}}
    assert resolve_resources(resources, env={}, run_config=run_config)["warehouse"].port == 1
    with pytest.raises(
        ConfigError,
        match=r"resources.wharehouse: no resource has this key. Did you mean 'warehouse'\?",
    ):
        resolve_resources(resources, env={}, run_config={"resources": {"wharehouse": {}}})
    with pytest.raises(
        ConfigError, match="resource 'cache' is a plain dict object and takes no config"
    ):
        resolve_resources(resources, env={}, run_config={"resources": {"cache": {"config": {}}}})


def test_plain_objects_pass_through_untouched() -> None:
    client, values = object(), {"k": EnvVar("NOT_READ")}
    resolved = resolve_resources({"client": client, "values": values, "none": None}, env={})
    assert (
        resolved["client"] is client and resolved["values"] is values and resolved["none"] is None
    )
    with resource_lifecycle(resolved) as live:
        assert live["client"] is client


def test_secret_values_and_redaction() -> None:
    resources = {
        "service": Service(
            warehouse=Warehouse(path=EnvVar("WAREHOUSE_PATH"), port=EnvVar.int("PORT")),
            options=Options(token=EnvVar("TOKEN")),
        ),
        "partial": Warehouse.configure_at_launch(schema_name=EnvVar("SCHEMA")),
        "plain": object(),
    }
    run_config = {"resources": {"partial": {"config": {"path": {"env": "LAUNCH_PATH"}}}}}
    env = {**ENV, "PORT": "06543", "SCHEMA": "", "LAUNCH_PATH": "/launch-secret", "OTHER": "x"}
    secrets = secret_values(resources, env=env, run_config=run_config)
    assert secrets == {"/srv/s3cr3t-path", "06543", "6543", "tok-XYZ-123", "/launch-secret"}
    resolved = resolve_resources(resources, env=env, run_config=run_config)
    assert secret_values(resolved, env=env) >= {"/srv/s3cr3t-path", "tok-XYZ-123"}
    line = f"connect /srv/s3cr3t-path:6543 token=tok-XYZ-123 {resolved}"
    redacted = redact(line, secrets)
    assert redacted.startswith("connect ***:*** token=*** ")
    assert not any(secret in redacted for secret in secrets)


def test_redact_replaces_longer_secrets_first() -> None:
    assert redact("abcdef abc", ["abc", "abcdef"]) == "*** ***"
    assert redact("nothing to hide", []) == "nothing to hide"
    assert redact("a+b (a+b)", ["a+b", ""]) == "*** (***)"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []


class Tracked(ConfigurableResource):
    name: str
    log: Any
    fail_setup: bool = False

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.fail_setup:
            raise RuntimeError(f"cannot reach {self.name}")
        self.log.calls.append(f"setup {self.name}")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.log.calls.append(f"teardown {self.name}")


class Parent(ConfigurableResource):
    child: Tracked
    log: Any

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.log.calls.append("setup parent")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.log.calls.append("teardown parent")


def test_setup_runs_nested_first_once_and_teardown_in_reverse() -> None:
    log = Recorder()
    shared = Tracked(name="shared", log=log)
    resources = {
        "parent": Parent(child=shared, log=log),
        "a": Tracked(name="a", log=log),
        "shared": shared,
    }
    resolved = resolve_resources(resources, env={})
    with resource_lifecycle(resolved, run_id="r1") as live:
        assert log.calls == ["setup shared", "setup parent", "setup a"]
        assert live["shared"] is resolved["shared"] is live["parent"].child
        assert live["a"].get_resource_context().run_id == "r1"
    assert log.calls[3:] == ["teardown a", "teardown parent", "teardown shared"]


def test_teardown_runs_when_the_run_fails() -> None:
    log = Recorder()
    resolved = resolve_resources({"a": Tracked(name="a", log=log)}, env={})
    with pytest.raises(KeyError), resource_lifecycle(resolved):
        raise KeyError("step failed")
    assert log.calls == ["setup a", "teardown a"]


def test_a_failed_setup_tears_down_what_was_set_up_and_names_the_resource() -> None:
    log = Recorder()
    resources = {
        "a": Tracked(name="a", log=log),
        "b": Tracked(name="b", log=log, fail_setup=True),
        "c": Tracked(name="c", log=log),
    }
    with (
        pytest.raises(
            ExecutionError, match=r"resource 'b' failed to set up: RuntimeError\('cannot reach b'\)"
        ) as caught,
        resource_lifecycle(resolve_resources(resources, env={})),
    ):
        pytest.fail("the body must not run")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert log.calls == ["setup a", "teardown a"]  # b's teardown is not called; c never starts


def test_a_failed_teardown_is_reported_after_every_other_teardown() -> None:
    class Flaky(ConfigurableResource):
        def teardown_after_execution(self, context: InitResourceContext) -> None:
            raise OSError("socket closed")

    log = Recorder()
    resolved = resolve_resources({"t": Tracked(name="t", log=log), "flaky": Flaky()}, env={})
    failed_teardown = pytest.raises(ExecutionError, match="resource 'flaky' failed to tear down")
    with failed_teardown, resource_lifecycle(resolved):
        pass
    assert log.calls == ["setup t", "teardown t"]
    lifecycle = resource_lifecycle(resolve_resources({"flaky": Flaky()}, env={}))
    with pytest.raises(ValueError, match="step") as caught, lifecycle:
        raise ValueError("step")
    assert "tearing down resource 'flaky' failed" in caught.value.__notes__[0]


def test_yield_for_execution_and_private_state() -> None:
    class Client(ConfigurableResource):
        url: str
        _conn: Any = PrivateAttr()

        @contextmanager
        def yield_for_execution(self, context: InitResourceContext) -> Iterator["Client"]:
            self._conn = f"conn:{self.url}"
            yield self
            self._conn = None

    resolved = resolve_resources({"client": Client(url="u")}, env={})
    with resource_lifecycle(resolved) as live:
        assert live["client"]._conn == "conn:u"
    assert resolved["client"]._conn is None
    with pytest.raises(ExecutionError, match=r"get_resource_context\(\) works only during a run"):
        Client(url="u").get_resource_context()


def test_a_factory_gives_assets_what_create_resource_returns() -> None:
    class ApiFactory(ConfigurableResourceFactory[dict[str, str]]):
        base_url: str

        def create_resource(self, context: InitResourceContext) -> dict[str, str]:
            return {"url": self.base_url, "config": context.resource_config}

    resolved = resolve_resources(
        {"api": ApiFactory(base_url=EnvVar("URL"))}, env={"URL": "http://x"}
    )
    with resource_lifecycle(resolved) as live:
        assert live["api"] == {"url": "http://x", "config": {"base_url": "http://x"}}


def test_resource_decorator_functions_and_generators() -> None:
    events: list[str] = []

    @resource(config_schema={"url": str, "pool": Field(int, default_value=2), "tags": [str]})
    def database(context: InitResourceContext) -> Iterator[str]:
        events.append("open")
        yield f"db({context.resource_config['url']}, {context.resource_config['pool']})"
        events.append("close")

    @resource(required_resource_keys={"database"})
    def reports(context: InitResourceContext) -> str:
        return f"reports on {context.resources.database}"

    @resource
    def constant() -> int:
        return 7

    assert isinstance(database, ResourceDefinition) and isinstance(constant, ResourceDefinition)
    run_config = {"resources": {"database": {"config": {"url": {"env": "DB_URL"}, "tags": []}}}}
    resolved = resolve_resources(
        {"reports": reports, "database": database, "constant": constant},
        env={"DB_URL": "pg://secret"},
        run_config=run_config,
    )
    assert "secret" not in repr(resolved)
    with pytest.raises(ExecutionError, match="is not set up: use the objects"):
        _ = resolved["database"].execute
    with resource_lifecycle(resolved) as live:
        assert live == {
            "reports": "reports on db(pg://secret, 2)",
            "database": "db(pg://secret, 2)",
            "constant": 7,
        }
        assert events == ["open"]
    assert events == ["open", "close"]
    assert secret_values(
        {"database": database}, env={"DB_URL": "pg://secret"}, run_config=run_config
    ) == {"pg://secret"}


def test_resource_definition_config_errors_and_missing_dependencies() -> None:
    @resource(config_schema={"url": str})
    def database(context: InitResourceContext) -> str:
        return "db"

    with pytest.raises(
        ConfigError, match=r"^run_config resources\.database\.config: missing required field 'url'"
    ):
        resolve_resources({"database": database}, env={})
    bad = {"resources": {"database": {"config": {"url": 1}}}}
    with pytest.raises(
        ConfigError, match=r"^run_config resources.database.config.url: expected str"
    ):
        resolve_resources({"database": database}, env={}, run_config=bad)

    @resource(required_resource_keys={"databse"})
    def reports(context: InitResourceContext) -> str:
        return "r"

    resolved = resolve_resources(
        {"reports": reports, "database": ResourceDefinition.hardcoded_resource(1)}, env={}
    )
    with (
        pytest.raises(
            MissingResourceError, match=r"requires resource 'databse'.*Did you mean 'database'\?"
        ),
        resource_lifecycle(resolved),
    ):
        pass


def test_resource_definitions_can_be_called_directly_in_tests() -> None:
    @resource(config_schema={"n": int})
    def doubled(context: InitResourceContext) -> int:
        return context.resource_config["n"] * 2

    assert doubled(build_init_resource_context(config={"n": 4})) == 8
    assert ResourceDefinition.hardcoded_resource("v")() == "v"


def test_from_resource_context_builds_a_validated_instance() -> None:
    context = build_init_resource_context(config={"path": "/p", "port": 1})
    assert Warehouse.from_resource_context(context) == Warehouse(path="/p", port=1)


class IOManager(ABC):
    @abstractmethod
    def handle_output(self, context: Any, obj: Any) -> None: ...

    @abstractmethod
    def load_input(self, context: Any) -> Any: ...


def test_a_resource_can_also_be_an_abstract_io_manager() -> None:
    class ConfigurableIOManager(ConfigurableResource, IOManager):
        pass

    class MemoryIO(ConfigurableIOManager):
        prefix: str = "mem"

        def handle_output(self, context: Any, obj: Any) -> None:
            pass

        def load_input(self, context: Any) -> Any:
            return self.prefix

    class Incomplete(ConfigurableIOManager):
        prefix: str = "x"

    manager = MemoryIO(prefix=EnvVar("PREFIX"))
    resolved = resolve_resources({"io_manager": manager}, env={"PREFIX": "p"})["io_manager"]
    assert isinstance(resolved, IOManager) and isinstance(resolved, ConfigurableResource)
    assert resolved.load_input(None) == "p"
    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_configurable_resource_is_subscriptable_like_dagsters() -> None:
    class Typed(ConfigurableResource[int]):
        n: int = 1

    assert Typed().n == 1


def test_env_vars_inside_lists_and_dicts_are_read_and_kept_out_of_repr() -> None:
    class Cluster(ConfigurableResource):
        hosts: list[str]
        ports: dict[str, int] = {}

    cluster = Cluster(hosts=["a", EnvVar("HOST_B")], ports={"b": EnvVar.int("PORT")})
    resolved = resolve_resources({"cluster": cluster}, env={"HOST_B": "hidden-b", **ENV})
    assert resolved["cluster"].hosts == ["a", "hidden-b"]
    assert resolved["cluster"].ports == {"b": 6543}
    assert repr(resolved["cluster"]) == (
        "Cluster(hosts=['a', EnvVar('HOST_B')], ports={'b': EnvVar.int('PORT')})"
    )
    with pytest.raises(EnvVarError, match=r"^resource 'cluster' field 'hosts\[1\]' reads"):
        resolve_resources({"cluster": cluster}, env={})


def test_legacy_schemas_without_fields() -> None:
    @resource(config_schema=str)
    def named(context: InitResourceContext) -> str:
        return f"name={context.resource_config}"

    @resource
    def loose(context: InitResourceContext) -> Any:
        return context.resource_config

    run_config = {"resources": {"named": {"config": {"env": "NAME"}}}}
    resolved = resolve_resources(
        {"named": named, "loose": loose}, env={"NAME": "n"}, run_config=run_config
    )
    with resource_lifecycle(resolved) as live:
        assert live == {"named": "name=n", "loose": None}
    with pytest.raises(EnvVarError, match=r"^resource 'named' field 'config' reads .* NAME"):
        resolve_resources({"named": named}, env={}, run_config=run_config)


def test_the_run_time_functions_also_import_from_flowdev_resources() -> None:
    import flowdev.resources.lifecycle as lifecycle
    from flowdev.resources.resource import resolve_resources as resolve
    from flowdev.resources.resource import resource_lifecycle as lifecycle_fn
    from flowdev.resources.resource import secret_values as secrets

    assert (resolve, lifecycle_fn, secrets) == (
        lifecycle.resolve_resources,
        lifecycle.resource_lifecycle,
        lifecycle.secret_values,
    )
