"""The four Surge servers on one machine."""
