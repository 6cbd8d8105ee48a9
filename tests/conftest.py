"""Test set-up: headless Qt before any QApplication exists; torch kept to one thread."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# the app auditions on worker processes; tests use threads unless a test asks for processes by name
os.environ.setdefault("DEEPCOMPOSER_AUDITION_BACKEND", "thread")
