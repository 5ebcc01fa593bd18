"""hagen: compile a YAML topology spec into a reviewable HA OpenStack control-plane bundle."""

__version__ = "0.1.0"
