"""Checkers for chapter 07's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
