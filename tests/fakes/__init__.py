"""Test doubles that speak real protocols over loopback HTTP (see each module's docstring)."""
