"""Test set-up: headless Qt before any QApplication exists; torch kept to one thread."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
