"""The window's dark studio look (one Qt style sheet).

Disabled controls are dimmed; check and radio marks are drawn here (Fusion's are dark on dark). Spin boxes get no
border so that Fusion still draws their step arrows (any border rule makes Qt leave the step buttons blank).
"""

DARK_STYLE = """
QMainWindow, QWidget { background:#232323; color:#ddd; }
QMenuBar, QMenu { background:#2b2b2b; color:#ddd; }
QMenu::item:selected, QMenuBar::item:selected { background:#3d7be0; }
QDockWidget::title { background:#2f2f2f; padding:4px; }
QLineEdit, QComboBox { background:#1a1a1a; border:1px solid #444; border-radius:3px; padding:1px 4px; color:#eee; }
QSpinBox, QDoubleSpinBox { background:#1a1a1a; padding:1px 4px; color:#eee; }
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
QPushButton:hover { background:#424242; }
QCheckBox::indicator, QRadioButton::indicator, QGroupBox::indicator { width:12px; height:12px;
  border:1px solid #aaa; background:#1a1a1a; }
QCheckBox::indicator, QGroupBox::indicator { border-radius:2px; }
QRadioButton::indicator { border-radius:7px; }
QCheckBox::indicator:hover, QRadioButton::indicator:hover, QGroupBox::indicator:hover { border-color:#ddd; }
QCheckBox::indicator:checked, QGroupBox::indicator:checked { background:#3d7be0; border-color:#8fb5f0; }
QCheckBox::indicator:indeterminate { background:qlineargradient(x1:0, y1:0, x2:0, y2:1, stop:0 #1a1a1a,
  stop:0.4 #1a1a1a, stop:0.41 #3d7be0, stop:0.6 #3d7be0, stop:0.61 #1a1a1a, stop:1 #1a1a1a); }
QRadioButton::indicator:checked { border-color:#8fb5f0; background:qradialgradient(cx:0.5, cy:0.5, radius:0.5,
  fx:0.5, fy:0.5, stop:0 #fff, stop:0.4 #fff, stop:0.5 #3d7be0, stop:1 #3d7be0); }
QCheckBox::indicator:disabled, QRadioButton::indicator:disabled, QGroupBox::indicator:disabled {
  border-color:#555; background:#262626; }
QCheckBox::indicator:checked:disabled, QRadioButton::indicator:checked:disabled,
QGroupBox::indicator:checked:disabled { background:#3a4a66; }
QMenu::item:disabled { color:#6a6a6a; }
QPushButton:disabled, QToolButton:disabled { background:#2a2a2a; border-color:#363636; color:#6a6a6a; }
QLineEdit:disabled, QComboBox:disabled { background:#262626; border-color:#363636; color:#6a6a6a; }
QSpinBox:disabled, QDoubleSpinBox:disabled { background:#262626; color:#6a6a6a; }
QLabel:disabled, QCheckBox:disabled, QRadioButton:disabled, QGroupBox:disabled { color:#6a6a6a; }
QListView::item:disabled, QListWidget::item:disabled, QTreeView::item:disabled, QTableView::item:disabled,
QTableWidget::item:disabled { color:#666; background:#262626; }
QAbstractItemView:disabled { color:#6a6a6a; }
"""
