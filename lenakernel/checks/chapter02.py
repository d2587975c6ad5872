"""Checkers for chapter 02's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
