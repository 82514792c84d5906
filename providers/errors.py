"""The exceptions of the providers package (it imports nothing of the pipeline above it).

    ProviderError            exit 1: a provider refused or failed
    ├── ProviderUnavailable  exit 1: the provider cannot take this job (no key, wound down, ...); a
    │                        fallback chain moves past it
    └── ProviderInputError   exit 2: the provider found the input wrong (not a model folder, a 400 reply)

Every message is written for the user and, where there is one, names the fix. SDK exceptions are
translated once, at the adapter's boundary (providers.base.call_sdk). The CLI maps this tree, the
pipeline's and the rule engine's to exit codes in one place (orchestrator.cli).
"""

from __future__ import annotations


class ProviderError(Exception):
    """A provider refused a request or failed."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None, maybe_done: bool = False, settle: float = 0.0):
        super().__init__(message)
        self.message = message
        self.fix = fix
        # the outcome is unknown: the provider may have acted before the reply was lost (a 5xx, a timeout,
        # a dropped connection, an unparsable reply); a request that is not idempotent is looked up first
        self.maybe_done = maybe_done
        # seconds to let a request that timed out land on the server before looking for what it made
        self.settle = settle


class ProviderUnavailable(ProviderError):
    """A provider cannot take this job at all; a fallback chain moves on to the next one."""


class ProviderInputError(ProviderError):
    """The provider found the input wrong (a model that is not a model folder, a refused spec)."""

    exit_code = 2
