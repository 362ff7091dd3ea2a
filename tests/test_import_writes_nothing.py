"""Importing the test package writes nothing: no `ledger.db`, no `.hypothesis/`.

The schemathesis module built the app at import time, which opened the default database
(./ledger.db) and started a worker thread in whatever folder pytest ran from. The import runs
here in a child process whose working folder is empty; it must stay empty.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_ALL = """
import importlib, pkgutil, tests
for module in pkgutil.walk_packages(tests.__path__, "tests."):
    if not module.name.startswith("tests.browser"):  # needs Playwright's browsers
        importlib.import_module(module.name)
print("imported")
"""


def test_importing_the_tests_writes_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    if "LEDGER_TEST_POSTGRES_URL" in os.environ:
        env["LEDGER_TEST_POSTGRES_URL"] = os.environ["LEDGER_TEST_POSTGRES_URL"]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "imported" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []
