"""The disclosure checks: the ``CHECKS`` registry and the built-in rules (threshold, zeros, complementary,
dominance, p %), one module each."""

from repropack.disclosure.checks.base import CHECKS, DisclosureCheck

__all__ = ["CHECKS", "DisclosureCheck"]
