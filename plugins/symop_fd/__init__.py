"""Finite differences on boxes, registered under the ``symop`` entry points as ``fd``."""
