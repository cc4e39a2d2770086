"""demarcate: who secures what in an AI application, where the gaps are, and proof by test."""

__version__ = "0.1.0"
