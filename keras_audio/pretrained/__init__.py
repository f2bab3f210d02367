"""Pretrained weights from registry packages: checkpoint reading without torch, sources pinned by hash."""
