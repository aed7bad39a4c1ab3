"""Retry patterns for version conflicts: one short module per pattern."""

from aether.patterns.basic import immediate_retry, no_retry

__all__ = ["immediate_retry", "no_retry"]
