"""``protoecg app``: the Streamlit command line and the environment handed to the app."""
from __future__ import annotations

from protoecg_cli import build_parser, main
from protoecg_cli.app_cmd import app_environment, app_script, streamlit_command


def _opt(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_defaults_bind_to_localhost_with_an_upload_limit():
    args = build_parser().parse_args(["app", "--model", "runs/x"])
    assert (args.host, args.port, args.max_upload_mb) == ("127.0.0.1", 8501, 10)
    cmd = streamlit_command(args.host, args.port, args.max_upload_mb)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(app_script())
    assert app_script().name == "main.py" and app_script().is_file()
    assert _opt(cmd, "--server.address") == "127.0.0.1"
    assert _opt(cmd, "--server.maxUploadSize") == "10"
    assert _opt(cmd, "--server.headless") == "true"
    assert _opt(cmd, "--browser.gatherUsageStats") == "false"


def test_environment_carries_model_db_and_directories(tmp_path):
    env = app_environment(tmp_path, None, 5, phewas=str(tmp_path / "ph"), data=str(tmp_path / "d"))
    assert env["PROTOECG_APP_MODEL"] == str(tmp_path.resolve())
    assert env["PROTOECG_APP_DB"] == f"sqlite:///{tmp_path.resolve() / 'ratings.sqlite'}"
    assert env["PROTOECG_APP_MAX_UPLOAD_MB"] == "5"
    assert env["PROTOECG_APP_RESULTS"].endswith("ph") and env["PROTOECG_APP_DATA"].endswith("d")
    env = app_environment(tmp_path, "postgresql://u@h/db", 5)
    assert env["PROTOECG_APP_DB"] == "postgresql://u@h/db"


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["app", "--model", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["app", "--model", str(tmp_path), "--port", "0"]) == 2
