"""The grammar of the symop equation language (``symop.lark``), shipped as package data."""
