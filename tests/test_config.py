from __future__ import annotations

import dataclasses
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


def test_settings_fields_all_have_defaults() -> None:
    Settings()  # every field has a packaged default
