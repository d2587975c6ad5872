"""Checkers for chapter 09's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
