"""Checkers for chapter 08's exercises (placeholder until the chapter is written)."""

__all__: list[str] = []
