"""The direction of imports: core ← cmdb ← notify ← monitoring ← servicedesk ← later apps.

import-linter checks the Python imports (contracts in pyproject.toml); templates are checked
here too, since a core template that names a cmdb URL couples core to cmdb just as an import
does. The agent, once it exists, imports nothing of Django or of the server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["core", "cmdb", "notify", "monitoring", "servicedesk"]


def _lint(config: Path | None = None) -> subprocess.CompletedProcess:
    args = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    if config is not None:
        args += ["--config", str(config)]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = _lint()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_agent_imports_nothing_of_django(tmp_path):
    if not (ROOT / "opsdesk" / "agent").is_dir():
        return  # the agent comes with monitoring; this test starts holding it then
    config = tmp_path / "agent.ini"
    config.write_text("[importlinter]\nroot_package = opsdesk\ninclude_external_packages = True\n"
                      "[importlinter:contract:agent]\nname = agent\ntype = forbidden\n"
                      "source_modules =\n    opsdesk.agent\nforbidden_modules =\n    django\n    rest_framework\n"
                      "    celery\n"
                      + "".join(f"    opsdesk.{app}\n" for app in APPS if (ROOT / "opsdesk" / app).is_dir()))
    result = _lint(config)
    assert result.returncode == 0, result.stdout[-3000:]


def test_what_a_remote_collector_runs_imports_nothing_of_django(tmp_path):
    """The engine, the check modules and the remote collector run inside customers' networks,
    without the database: like the agent, they may not import Django or the server's apps."""
    config = tmp_path / "collector.ini"
    config.write_text("[importlinter]\nroot_package = opsdesk\ninclude_external_packages = True\n"
                      "[importlinter:contract:collector]\nname = collector\ntype = forbidden\n"
                      "source_modules =\n    opsdesk.monitoring.checks\n    opsdesk.monitoring.collector\n"
                      "    opsdesk.monitoring.remote\n    opsdesk.monitoring.results\n"
                      "forbidden_modules =\n    django\n    rest_framework\n    celery\n    opsdesk.core\n"
                      "    opsdesk.cmdb\n    opsdesk.monitoring.models\n    opsdesk.monitoring.services\n")
    result = _lint(config)
    assert result.returncode == 0, result.stdout[-3000:]


def test_templates_of_an_app_name_no_url_of_an_app_to_its_right():
    offences = []
    for i, app in enumerate(APPS):
        right = APPS[i + 1:]
        if not right:
            continue
        pattern = re.compile(r"""\{%\s*url\s+['"](""" + "|".join(right) + "):")
        for template in (ROOT / "opsdesk" / "templates" / app).glob("**/*.html"):
            for number, line in enumerate(template.read_text().splitlines(), 1):
                if pattern.search(line):
                    offences.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offences, "\n".join(offences)
