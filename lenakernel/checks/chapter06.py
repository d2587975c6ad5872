"""Checkers for chapter 06's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
