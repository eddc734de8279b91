"""`opsdesk agent` without a server: where the state lives, and the one-line errors (not enrolled:
exit 2 with the command to run; the server unreachable: exit 1)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from opsdesk import cli as opsdesk_cli
from opsdesk.agent import state
from opsdesk.agent.cli import main
from opsdesk.agent.state import AgentConfig, resolve_state_dir
from tests.agent.peers import closed_port_url


def test_the_state_directory_is_chosen_as_documented(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSDESK_AGENT_DIR", str(tmp_path / "from-env"))
    assert resolve_state_dir(str(tmp_path / "option")) == tmp_path / "option"
    assert resolve_state_dir() == tmp_path / "from-env"
    monkeypatch.delenv("OPSDESK_AGENT_DIR")
    monkeypatch.setattr(state, "SYSTEM_DIR", tmp_path / "lib" / "opsdesk-agent")
    (tmp_path / "lib").mkdir()
    assert resolve_state_dir() == tmp_path / "lib" / "opsdesk-agent"  # can be made: /var/lib is writable
    monkeypatch.setattr(state, "SYSTEM_DIR", tmp_path / "not-a-dir" / "opsdesk-agent")
    (tmp_path / "not-a-dir").write_text("")  # nobody, root included, can make a directory in it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_state_dir() == tmp_path / "home" / ".local" / "state" / "opsdesk-agent"


def test_not_enrolled_exits_2_with_the_command_to_run(tmp_path, capsys):
    for command in (["run", "--once"], ["status"]):
        assert main([*command, "--state-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "not enrolled yet" in err and "opsdesk agent enroll --server URL --token TOKEN" in err
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_an_unreachable_server_is_one_line_and_exit_1(tmp_path, capsys):
    server = closed_port_url()
    assert main(["enroll", "--server", server, "--token", "t", "--state-dir", str(tmp_path / "s")]) == 1
    assert capsys.readouterr().err.strip() == f"opsdesk agent: cannot reach {server}: Connection refused"
    assert not (tmp_path / "s" / "agent.json").exists()


def test_a_bad_address_and_bad_options_are_usage_errors(tmp_path, capsys):
    assert main(["enroll", "--server", "opsdesk.example.com", "--token", "t", "--state-dir", str(tmp_path)]) == 2
    assert "--server must be an http:// or https:// address" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["run", "--interval", "0.5", "--state-dir", str(tmp_path)])
    assert usage.value.code == 2
    assert "--interval: must be at least 1" in capsys.readouterr().err


def test_the_config_is_private_and_written_whole(tmp_path):
    folder = tmp_path / "state"
    AgentConfig(server="https://opsdesk.example", agent=3, token="secret").save(folder)
    path = folder / "agent.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["token"] == "secret"
    assert [p.name for p in folder.iterdir()] == ["agent.json"]  # no temporary file left behind
    path.chmod(0o644)  # loosened by hand: the next write makes it private again
    AgentConfig(server="https://opsdesk.example", agent=4, token="other").save(folder)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_already_enrolled_is_kept_unless_forced(tmp_path, capsys):
    AgentConfig(server="https://opsdesk.example", agent=3, token="secret").save(tmp_path)
    assert main(["enroll", "--server", closed_port_url(), "--token", "t", "--state-dir", str(tmp_path)]) == 1
    assert "already enrolled as agent 3 with https://opsdesk.example" in capsys.readouterr().err
    # --force goes on to the server (here unreachable, so the enrolment is kept as it was)
    assert main(["enroll", "--force", "--server", closed_port_url(), "--token", "t", "--state-dir", str(tmp_path)]) == 1
    assert AgentConfig.load(tmp_path).agent == 3


def test_status_says_what_it_knows(tmp_path, capsys):
    AgentConfig(server="https://opsdesk.example", agent=3, token="secret", hostname="web-01").save(tmp_path)
    assert main(["status", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "agent 3 with https://opsdesk.example (host web-01" in out and "not running" in out
    assert "secret" not in out
    assert main(["status", "--json", "--state-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["agent"] == 3 and report["running"] is False and report["spool"]["pending"] == 0
    assert "token" not in report


def test_opsdesk_agent_runs_without_django(tmp_path):
    assert "agent" in dict(opsdesk_cli.COMMANDS) and "agent" in opsdesk_cli.usage()
    script = ("import sys\nfrom opsdesk.cli import main\n"
              f"code = main(['agent', 'status', '--state-dir', {str(tmp_path)!r}])\n"
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'celery', "
              "'httpx')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "2 []", done.stderr
