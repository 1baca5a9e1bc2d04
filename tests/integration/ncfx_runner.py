"""ncfx_runner: main(), the unittest runner every test file ends with.

A test that fails or errs prints the tail of every running server's log after its own
traceback (server_log_tails), since CI keeps only the test's output.
"""

import unittest

from ncfx_server import server_log_tails


class _LogTailResult(unittest.TextTestResult):
    """Prints the servers' logs (server_log_tails) when a test fails or errs."""

    def _tails(self):
        text = server_log_tails()
        if text:
            self.stream.write("\n" + text + "\n")
            self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._tails()

    def addError(self, test, err):
        super().addError(test, err)
        self._tails()


def main():
    unittest.main(verbosity=2, testRunner=unittest.TextTestRunner(resultclass=_LogTailResult,
                                                                  verbosity=2))
