"""Regression guards for platform facts measured on this project's machines (see README, "Versions")."""
import subprocess
import sys
import textwrap


def test_pyside6_is_pinned_below_6_12():
    import PySide6
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__}: 6.12.0 aborts on CPython 3.11 (none_dealloc)"


def test_20000_calls_of_methods_returning_none_do_not_abort():
    # PySide6 6.12.0 on CPython 3.11 drops a reference to None on each such call; Python aborts after a few
    # thousand. Run in a child so an abort shows up as a failed test, not a dead test run.
    code = textwrap.dedent("""
        import os, sys
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtGui import QBrush, QColor
        from PySide6.QtWidgets import QApplication, QGraphicsRectItem, QWidget
        app = QApplication([])
        item = QGraphicsRectItem(0, 0, 10, 10)
        w = QWidget()
        brush = QBrush(QColor(10, 20, 30))
        before = sys.getrefcount(None)
        for i in range(10_000):
            item.setBrush(brush)          # returns None
            w.setToolTip("x")             # returns None
        print("ok", sys.getrefcount(None) - before)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"child exited {r.returncode}: {r.stderr[-500:]}"
    assert r.stdout.startswith("ok")
