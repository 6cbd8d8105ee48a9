"""The Qt user interface. Only this package, app.py and workers.py import Qt."""
