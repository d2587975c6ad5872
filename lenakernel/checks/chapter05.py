"""Checkers for chapter 05's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
