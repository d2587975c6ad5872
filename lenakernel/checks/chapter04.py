"""Checkers for chapter 04's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
