"""Lagrange finite elements, registered under the ``symop`` entry points as ``fem``."""
