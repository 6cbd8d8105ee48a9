"""The window's dark studio look (one Qt style sheet)."""

DARK_STYLE = """
QMainWindow, QWidget { background:#232323; color:#ddd; }
QMenuBar, QMenu { background:#2b2b2b; color:#ddd; }
QMenu::item:selected, QMenuBar::item:selected { background:#3d7be0; }
QDockWidget::title { background:#2f2f2f; padding:4px; }
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox { background:#1a1a1a; border:1px solid #444; border-radius:3px;
  padding:1px 4px; color:#eee; }
QToolButton { background:#333; border:1px solid #444; border-radius:4px; color:#ddd; }
QToolButton:hover { background:#3c3c3c; }
QToolButton:checked { background:#3d7be0; color:white; }
QTabWidget::pane { border:1px solid #3a3a3a; }
QTabBar::tab { background:#2b2b2b; padding:5px 10px; border:1px solid #3a3a3a; }
QTabBar::tab:selected { background:#3a3a3a; }
QProgressBar { border:1px solid #444; border-radius:3px; text-align:center; background:#1a1a1a; }
QProgressBar::chunk { background:#3d7be0; }
QStatusBar { background:#1d1d1d; color:#aaa; }
QSlider::groove:horizontal { height:4px; background:#444; border-radius:2px; }
QSlider::handle:horizontal { background:#bbb; width:10px; margin:-5px 0; border-radius:5px; }
QPushButton { background:#383838; border:1px solid #555; border-radius:4px; padding:4px 10px; }
"""
