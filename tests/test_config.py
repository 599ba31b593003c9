"""One naming rule for every setting: flag, then GARRISON_ env, then TOML, then default."""

from __future__ import annotations

from pathlib import Path

import pytest

from garrison.cli.main import _settings, build_parser
from garrison.config import Settings, load_settings


def test_defaults() -> None:
    s = load_settings({}, environ={})
    assert (s.host, s.port, s.data_dir, s.dev) == ("127.0.0.1", 4600, "./garrison-data", False)
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.explicit == frozenset()


def test_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text('port = 1111\nhost = "0.0.0.0"\nkms_max_keys = 5\ndev = true\n')
    env = {"GARRISON_PORT": "2222", "GARRISON_KMS_MAX_KEYS": "7"}
    s = load_settings({"port": "3333"}, environ=env, config_file=str(toml))
    assert s.port == 3333  # flag wins
    assert s.kms_max_keys == 7  # env beats file
    assert s.host == "0.0.0.0"  # file beats default
    assert s.dev is True
    assert {"port", "kms_max_keys", "host", "dev"} <= s.explicit


def test_config_file_from_environment(tmp_path: Path) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text("port = 4444\n")
    s = load_settings({}, environ={"GARRISON_CONFIG": str(toml)})
    assert s.port == 4444


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings({}, environ={}, config_file=str(toml))


def test_bad_boolean_is_refused() -> None:
    with pytest.raises(ValueError, match="boolean"):
        load_settings({}, environ={"GARRISON_DEV": "perhaps"})


def test_every_setting_has_a_flag() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["server", "--kms-max-keys", "9", "--dev", "--cache-poll-seconds", "0.5"]
    )
    s = _settings(args)
    assert (s.kms_max_keys, s.dev, s.cache_poll_seconds) == (9, True, 0.5)
    help_text = parser._subparsers._group_actions[0].choices["server"].format_help()  # type: ignore[union-attr]
    for name in Settings.__dataclass_fields__:
        if name != "explicit":
            assert "--" + name.replace("_", "-") in help_text
            assert "GARRISON_" + name.upper() in help_text
