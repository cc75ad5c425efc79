"""Ctrl-C during a real `kg ingest` process: exit code 130, one line saying where it
stopped, and running the same command again completes the load (nothing lost or doubled)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from kg.config import load_settings
from kg.store import open_store
from tests.helpers import KG, ROOT, one_line


def test_ctrl_c_during_ingest_exits_130_and_a_rerun_completes(tmp_path: Path) -> None:
    rows = 600_000
    data = tmp_path / "purchases.csv"
    with data.open("w") as handle:
        handle.write("user_id,sku\n")
        handle.writelines(f"U{n % 5000},P{n // 5000}-{n % 7}\n" for n in range(rows))
    mapping = tmp_path / "purchases.toml"
    mapping.write_text(
        '[edges]\nrel = "PURCHASED"\nfrom = { label = "User", column = "user_id" }\n'
        'to = { label = "Item", column = "sku" }\n'
    )
    command = [*KG, "--store", str(tmp_path / "graph"), "ingest", str(data), "--mapping", str(mapping),
               "--batch-size", "5000"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background inherits SIGINT ignored, and Python then never
        # turns SIGINT into KeyboardInterrupt: give the child the terminal's default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "graph").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)  # some batches committed, most not
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    message = one_line(err)
    assert (
        "Interrupted during Ingesting purchases.csv (" in message and "run the same command again" in message
    )
    assert "Traceback" not in err
    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    with open_store(load_settings(store=str(tmp_path / "graph")), read_only=True) as store:
        assert store.counts().relationships["PURCHASED"] == rows
