"""Checkers for chapter 03's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
