"""Share panel of the Training studio: export then import through the panel; a code-carrying file is refused."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("torch")

from tests.test_model_files import Evil, tiny_gan  # noqa: E402


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    tiny_gan(tmp_path / "models" / "gan-mine.pt")
    (tmp_path / "models" / "gan-mine.md").write_text("# GAN accompaniment: mine\n\nMy own band.\n")
    from deepcomposer_desktop.ui.model_sharing import ModelSharing
    p = ModelSharing()
    qtbot.addWidget(p)
    return p


def _finish(qtbot, panel, action):
    with qtbot.waitSignal(panel.finished, timeout=60000) as sig:
        action()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=10000)
    return sig.args


def test_export_then_import_through_the_panel(qtbot, panel, tmp_path):
    k = panel.models.findData("gan/mine")
    assert k >= 0 and "(yours)" in panel.models.itemText(k)
    out = tmp_path / "share" / "mine.dcmodel"
    ok, msg = _finish(qtbot, panel, lambda: panel.export_to("gan", "mine", str(out)))
    assert ok and out.is_file() and "Exported" in msg
    from PySide6.QtGui import QTextDocument
    shown = QTextDocument()
    shown.setHtml(panel.message.text())                   # what a rich-text label shows: "'mine'", not "&#x27;"
    assert panel.message.textFormat() == Qt.RichText and "model 'mine' to" in shown.toPlainText()
    ok, msg = _finish(qtbot, panel, lambda: panel.import_file(str(out)))
    assert not ok and "already have" in msg and "Not done" in panel.message.text()
    panel.replace.setChecked(True)
    installed = []
    panel.model_installed.connect(lambda t, n: installed.append((t, n)))
    ok, msg = _finish(qtbot, panel, lambda: panel.import_file(str(out)))
    assert ok and installed == [("gan", "mine")]
    assert (tmp_path / "models" / "gan-mine.md").read_text().startswith("# GAN accompaniment: mine")


def test_the_panel_refuses_a_file_that_carries_code(qtbot, panel, tmp_path):
    import torch
    marker = tmp_path / "pwned"
    bad = tmp_path / "cool-genre.dcmodel"
    torch.save({"format": "deepcomposer-desktop-model", "technique": "gan", "name": "cool-genre",
                "state_dict": {"w": Evil(marker)}}, bad)
    ok, msg = _finish(qtbot, panel, lambda: panel.import_file(str(bad)))
    assert not ok and "refused" in msg and "Nothing in it was run" in msg
    assert not marker.exists()
    assert not (tmp_path / "models" / "gan-cool-genre.pt").exists()
