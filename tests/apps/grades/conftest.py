from tests.support.graded import graded

__all__ = ["graded"]
