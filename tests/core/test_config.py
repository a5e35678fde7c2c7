from __future__ import annotations

from pathlib import Path

import pytest

from chainlight.config import iter_settings, load_config
from chainlight.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_run_offline() -> None:
    cfg = load_config(environ={})
    assert cfg.engine.name == "duckdb" and cfg.llm.base_url is None


def test_file_then_env_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("llm:\n  model: from-file\n  max_calls: 5\nseed: 1\n")
    cfg = load_config(path, {"seed": 9}, environ={"CHAINLIGHT_LLM__MAX_CALLS": "7"})
    assert (cfg.llm.model, cfg.llm.max_calls, cfg.seed) == ("from-file", 7, 9)


def test_bad_value_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("serve:\n  port: 99999\n")
    with pytest.raises(InputError, match="serve.port"):
        load_config(path, environ={})


def test_unknown_setting_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("engine:\n  nmae: duckdb\n")
    with pytest.raises(InputError, match="engine.nmae"):
        load_config(path, environ={})


def test_every_setting_is_described_and_documented() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, _default, help_text in iter_settings():
        assert help_text, f"setting {name} has no description"
        assert f"`{name}`" in readme, f"setting {name} is missing from README's settings table"


def test_readme_settings_table_is_current() -> None:
    import subprocess
    import sys
    result = subprocess.run([sys.executable, str(REPO / "dev" / "settings_table.py"), "--check"], check=False)
    assert result.returncode == 0, "README settings table is stale: run python dev/settings_table.py"


def test_other_chainlight_variables_are_not_settings() -> None:
    cfg = load_config(environ={"CHAINLIGHT_SHARED_DATA": "/data", "CHAINLIGHT_SEED": "5"})
    assert cfg.seed == 5


def test_non_utf8_config_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"seed: \xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8") as caught:
        load_config(path, environ={})
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("amount,ok", [("8GB", True), ("512 MiB", True), ("1.5gb", True), ("80%", True),
                                       ("lots", False), ("100", False), ("8 GB lots", False)])
def test_memory_limit_is_checked_where_it_is_set(amount: str, ok: bool) -> None:
    if ok:
        assert load_config(environ={"CHAINLIGHT_ENGINE__MEMORY_LIMIT": amount}).engine.memory_limit == amount
    else:
        with pytest.raises(InputError, match="engine.memory_limit"):
            load_config(environ={"CHAINLIGHT_ENGINE__MEMORY_LIMIT": amount})
