"""Turning what the user points at (config inputs, cells, notebooks) into a Bundle."""
