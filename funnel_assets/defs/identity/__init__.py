"""The canonical model: ``touchpoints`` (every touch of every source) and ``people`` (identity)."""
