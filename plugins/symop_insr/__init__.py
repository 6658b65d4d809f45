"""INSR: implicit neural spatial representations stepped in time by classical integrators."""
