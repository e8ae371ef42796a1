from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.config import Settings, load_settings
from summarize.errors import ConfigError


def test_defaults() -> None:
    s = load_settings(env={}, cwd=Path("/nonexistent"))
    assert s.targets == ("ar", "fr")
    assert s.summarizer == "distilbart-cnn-12-6"
    assert s.output_dir == Path("outputs")
    assert s.resolved_cache_path == Path("outputs/cache.sqlite3")


def test_layers_apply_in_order(tmp_path: Path) -> None:
    (tmp_path / "summarize.toml").write_text(
        'targets = ["es"]\nbatch_size = 3\nengine = "transformers"\n'
        '[translators]\n"en-es" = "./x"\n[summary_generation]\nnum_beams = 2\n',
        encoding="utf-8",
    )
    from_file = load_settings(env={}, cwd=tmp_path)
    assert from_file.targets == ("es",) and from_file.batch_size == 3
    assert from_file.translators == {"en-es": "./x"}
    assert from_file.summary_generation == {"num_beams": 2}
    env = {"SUMMARIZE_TARGETS": "ar,fr,ar", "SUMMARIZE_BATCH_SIZE": "5"}
    from_env = load_settings(env=env, cwd=tmp_path)
    assert from_env.targets == ("ar", "fr") and from_env.batch_size == 5
    from_flags = load_settings(env=env, cwd=tmp_path, overrides={"targets": "de", "batch_size": 7})
    assert from_flags.targets == ("de",) and from_flags.batch_size == 7
    # Tables merge key by key across layers.
    merged = load_settings(env=env, cwd=tmp_path, overrides={"translators": ["en-ar=./y"]})
    assert merged.translators == {"en-es": "./x", "en-ar": "./y"}


def test_explicit_config_file_and_settings_are_frozen(tmp_path: Path) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text('output = "elsewhere"\n', encoding="utf-8")
    s = load_settings(cfg, env={}, cwd=tmp_path)
    assert s.output_dir == Path("elsewhere")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.batch_size = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("colour = 1\n", "unknown setting"),
        ("batch_size = 'many'\n", "expected a number"),
        ("targets = 'a r'\n", "not a language code"),
        ("[summary_generation]\nbeams = 4\n", "unknown generation setting"),
        ("[translators]\nenar = 'x'\n", "SRC-TGT"),
        ("engine = 'tensorflow'\n", "engine"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_configuration_names_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "summarize.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env={}, cwd=tmp_path)


def test_offline_from_either_variable() -> None:
    assert load_settings(env={"SUMMARIZE_OFFLINE": "1"}, cwd=Path("/")).offline
    assert load_settings(env={"HF_HUB_OFFLINE": "1"}, cwd=Path("/")).offline
    assert not load_settings(env={}, cwd=Path("/")).offline
    with pytest.raises(ConfigError, match="true or false"):
        load_settings(env={"SUMMARIZE_OFFLINE": "perhaps"}, cwd=Path("/"))


def test_importing_reads_nothing(tmp_path: Path) -> None:
    """A broken summarize.toml in the working folder must not break `import summarize`."""
    (tmp_path / "summarize.toml").write_text("not = [valid", encoding="utf-8")
    code = "import summarize, summarize.cli, summarize.runner; print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "outputs").exists()


def test_every_setting_can_be_set_from_the_file_and_the_environment(tmp_path: Path) -> None:
    """Setting types come from the Settings annotations: each scalar field, written in
    summarize.toml or as SUMMARIZE_<NAME>, comes back as its own type."""
    import typing

    samples: dict[type, tuple[object, str, object]] = {
        bool: (True, "true", True),
        int: (7, "7", 7),
        float: (2.5, "2.5", 2.5),
        str: ("x", "x", "x"),
        Path: ("some/where", "some/where", Path("some/where")),
    }
    special = {
        "engine": "transformers",
        "compute_type": "int8",
        "stdin_format": "jsonl",
        "executor": "ray",
        "lang": "fr",
        "device": "cpu",
        "max_batch_tokens": 512,
        "min_chars": 1,
        "detect_min_confidence": 0.5,
        "max_chars": 100_000,
        "story_threshold": 0.5,
        "ninjs_version": "2.2",
        "ninjs_uri_prefix": "urn:newsroom:",
        "feed_max_bytes": 4096,
        "feed_every": 60.0,
    }
    hints = typing.get_type_hints(Settings)
    scalars = 0
    for field in dataclasses.fields(Settings):
        hint = hints[field.name]
        kind = next((k for k in samples if hint == k or hint == k | None), None)
        if kind is None or field.name == "config_file":
            continue
        scalars += 1
        toml_value, env_value, want = samples[kind]
        if field.name in special:
            toml_value = want = special[field.name]
            env_value = str(want)
        cfg = tmp_path / f"{field.name}.toml"
        literal = json.dumps(str(toml_value)) if kind in (str, Path) else str(toml_value).lower()
        cfg.write_text(f"{field.name} = {literal}\n")
        assert getattr(load_settings(cfg, env={}), field.name) == want, field.name
        from_env = load_settings(env={f"SUMMARIZE_{field.name.upper()}": env_value}, cwd=tmp_path)
        assert getattr(from_env, field.name) == want, field.name
    assert scalars >= 38


def test_bad_generation_values_name_file_key_and_type(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[summary_generation]\nnum_beams = "four"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"bad\.toml: summary_generation\.num_beams: expected a whole number, got 'four'",
    ):
        load_settings(cfg, env={})
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", "x.txt", "--config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "num_beams" in done.stderr


def test_the_config_file_given_is_the_one_whose_models_count(tmp_path: Path) -> None:
    """`--config FILE` is the file for every setting and for its [models] table; the working
    folder's summarize.toml is not read again."""
    from summarize.catalog import load_catalog

    (tmp_path / "summarize.toml").write_text(
        '[models.local-one]\nhub = "a/b"\ntask = "translation"\npairs = ["en-fr"]\n'
    )
    other = tmp_path / "other.toml"
    other.write_text('[models.other-one]\nhub = "c/d"\ntask = "translation"\npairs = ["en-de"]\n')
    settings = load_settings(other, env={}, cwd=tmp_path)
    assert settings.config_file == other
    catalog = load_catalog(settings)
    assert "other-one" in catalog and "local-one" not in catalog
    assert "local-one" in load_catalog(load_settings(env={}, cwd=tmp_path))


def test_hub_and_service_settings_come_from_the_environment_and_the_file(tmp_path: Path) -> None:
    env = {
        "HF_ENDPOINT": "http://mirror:8080",
        "HTTPS_PROXY": "http://proxy:3128",
        "SUMMARIZE_API_KEYS": "k1, k2",
    }
    s = load_settings(env=env, cwd=tmp_path)
    assert (s.hub_endpoint, s.https_proxy, s.api_keys) == (
        "http://mirror:8080",
        "http://proxy:3128",
        ("k1", "k2"),
    )
    (tmp_path / "summarize.toml").write_text(
        "rate_per_minute = 30\nmax_queue = 5\nwatch_interval = 0.5\n"
    )
    s = load_settings(env={}, cwd=tmp_path)
    assert (s.rate_per_minute, s.max_queue, s.watch_interval) == (30, 5, 0.5)


def test_every_setting_of_the_file_is_settable_in_the_environment(tmp_path: Path) -> None:
    from summarize.config import _ALIASES, _LISTS, _SCALARS, _TABLES, _env_layer

    file_keys = set(_SCALARS) | set(_LISTS) | set(_TABLES) | set(_ALIASES)
    values = {k: "num_beams=2" if _ALIASES.get(k, k) in _TABLES[2:] else "x" for k in file_keys}
    layer = _env_layer({f"SUMMARIZE_{k.upper()}": v for k, v in values.items()})
    assert {_ALIASES.get(k, k) for k in file_keys} <= set(layer)
    # The names the README and --help use: SUMMARIZE_TO, SUMMARIZE_FORMAT, a generation table.
    s = load_settings(
        env={
            "SUMMARIZE_TO": "fr",
            "SUMMARIZE_FORMAT": "md,json",
            "SUMMARIZE_SUMMARY_GENERATION": "num_beams=2,max_new_tokens=99",
        },
        cwd=tmp_path,
    )
    assert s.targets == ("fr",) and s.formats == ("md", "json")
    assert dict(s.summary_generation) == {"num_beams": 2, "max_new_tokens": 99}


def test_a_misspelt_variable_is_one_warning_naming_the_nearest_setting(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from summarize.cli import app
    from summarize.config import env_warnings

    assert env_warnings({"SUMMARIZE_TAGRETS": "fr", "SUMMARIZE_TO": "fr"}) == [
        "SUMMARIZE_TAGRETS is not a setting and is ignored; did you mean SUMMARIZE_TARGETS?"
    ]
    assert env_warnings({"SUMMARIZE_CONFIG": "x", "SUMMARIZE_SLOW_TESTS": "1"}) == []
    result = CliRunner().invoke(
        app, ["cache", "stats", "-o", str(tmp_path)], env={"SUMMARIZE_TAGRETS": "fr"}
    )
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "SUMMARIZE_TAGRETS" in line]
    assert lines == [
        "summarize: warning: SUMMARIZE_TAGRETS is not a setting and is ignored; "
        "did you mean SUMMARIZE_TARGETS?"
    ]


def test_threads_default_to_the_cpus_this_process_may_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.cpu_count() counts a container's host: 16 threads on 2 usable CPUs cost speed and,
    with CTranslate2, memory (the benchmark's 1,146 MB peak came from such a thread count)."""
    import os

    from summarize.config import usable_cpus

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)))
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    quota = tmp_path / "cpu.max"
    quota.write_text("200000 100000\n")
    assert usable_cpus(quota) == 2  # a 2-CPU quota
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == 16  # no quota: the affinity
    assert usable_cpus(tmp_path / "absent") == 16
    assert load_settings(env={}, cwd=tmp_path, overrides={"threads": 3}).resolved_threads == 3
