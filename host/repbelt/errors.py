"""The one error type users see: a one-line message and an exit code, never a traceback."""


class UserError(Exception):
    """Something the user can fix; `str(e)` is the whole message."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code
