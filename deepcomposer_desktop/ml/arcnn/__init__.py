"""AR-CNN "enhance": a U-Net over a 16th-note piano roll, trained on Bach chorales, that adds and removes notes."""
