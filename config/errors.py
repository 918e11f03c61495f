"""The shape every refusal a service raises shares (a submission refused, a crowd operation that
could not be done): a stable ``code`` for API clients and a ``message`` shown as is."""


class CodedError(Exception):
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
