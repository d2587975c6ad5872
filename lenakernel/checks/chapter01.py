"""Checkers for chapter 01's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
