"""The import contract (pyproject.toml, import-linter) holds, and what static analysis cannot see about torch."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )


def test_import_contracts_hold():
    out = _lint()
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_a_broken_contract_is_reported(tmp_path):
    # The engine imports torch: a contract forbidding it must fail, so the check above is not vacuous.
    cfg = tmp_path / "contracts.toml"
    cfg.write_text(
        '[tool.importlinter]\nroot_packages = ["lab"]\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "engine without torch"\ntype = "forbidden"\n'
        'source_modules = ["lab.engine.trainer"]\nforbidden_modules = ["torch"]\n'
    )
    out = _lint(str(cfg))
    assert out.returncode == 1 and "lab.engine.trainer is not allowed to import torch" in out.stdout, out.stdout[-3000:]


def test_manager_and_live_feed_load_no_torch():
    # Kept as a subprocess check because a contract cannot say it: the worker loop imports torch inside the
    # functions that run in worker processes only, and import-linter counts those lazy imports like any other.
    code = (
        "import sys, lab.serving.jobs, lab.serving.live.feed, lab.serving.live.layers, lab.ui.live_routes,"
        " lab.ui.dashboard, lab.ui.workflows; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
