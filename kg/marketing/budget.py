"""A run's spending limit on a language model: calls and tokens, never exceeded.

Each attempt (a retry included) reserves one call and the most tokens it could use --
its prompt plus the answer's ``max_new_tokens`` -- before it is sent; what it really used
is settled after. So the limits hold even when every answer runs to full length.
Tokens are estimated at four characters each (no tokenizer is needed to stay within a
limit that is itself an estimate of cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class BudgetExhausted(Exception):
    """No call may be made in this run any more (not a ``KGError``: the run goes on
    without the model, and reports it)."""


@dataclass
class CallBudget:
    """Limits and what has been used of them."""

    max_calls: int
    max_tokens: int
    answer_tokens: int  # the most tokens one answer may use (the model's max_new_tokens)
    calls: int = 0
    tokens: int = 0
    _reserved: int = 0

    def reserve(self, prompt: str) -> None:
        """Claim one call for ``prompt``, or raise ``BudgetExhausted``."""
        need = estimate_tokens(prompt) + self.answer_tokens
        if self.calls + 1 > self.max_calls:
            raise BudgetExhausted(f"the run's {self.max_calls} model calls are used")
        if self.tokens + need > self.max_tokens:
            raise BudgetExhausted(f"the next call could pass the run's {self.max_tokens:,} tokens")
        self.calls += 1
        self.tokens += need
        self._reserved = need

    def settle(self, prompt: str, answer: str) -> None:
        """Replace the last reservation by what the call used (never more than reserved)."""
        used = min(self._reserved, estimate_tokens(prompt) + estimate_tokens(answer))
        self.tokens += used - self._reserved
        self._reserved = 0

    def line(self) -> str:
        return f"{self.calls} of {self.max_calls} calls, ~{self.tokens:,} of {self.max_tokens:,} tokens"
