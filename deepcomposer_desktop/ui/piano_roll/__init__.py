"""Piano-roll editor: a custom-painted, culling note editor for one track of a Song (see ``editor.py``)."""
from .coords import RollCoords, snap_choices
from .editor import PianoRollEditor, track_color

__all__ = ["PianoRollEditor", "RollCoords", "snap_choices", "track_color"]
