"""Torch is imported on a worker after start-up (``FilesMixin._load_torch``), not by the first generation, whose
start it froze (the import holds the GIL ~150 ms at a time). Checked in a fresh interpreter: in this one torch is
long imported by other tests."""
from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
import sys, time
from deepcomposer_desktop import app as app_mod
app_mod.preload()
app = app_mod.make_app()
from deepcomposer_desktop.ui.main_window import MainWindow
w = MainWindow(start_audio=False, ask_on_close=False, midi_input=False)
w.show()
before = 'torch' in sys.modules
t_end = time.monotonic() + 90
while not w.torch_loaded and time.monotonic() < t_end:
    app.processEvents()
    time.sleep(0.01)
print('RESULT', int(before), int(w.torch_loaded), int('torch' in sys.modules), int(w._gen_worker is None), flush=True)
import os; os._exit(0)
"""


def test_torch_is_loaded_after_start_up_without_a_generation(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), HOME=str(tmp_path),
               QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=150)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, out.stderr[-800:]
    before, loaded, in_modules, no_generation = (int(v) for v in line.split()[1:])
    assert before == 0                         # the window shows without torch (start-up stays light)
    assert loaded == 1 and in_modules == 1     # then a worker imports it
    assert no_generation == 1                  # nobody pressed Generate
