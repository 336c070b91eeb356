"""Contract clauses as named tests: a failing conformance test says which clause broke, in the contract's
own words, before the detail of what went wrong.

Any conformance class can use it (the core's and a plugin's own)::

    class SamplerContract(abc.ABC):
        clause_source = "intarsia.interfaces.Sampler"

        @clause("sample(n) returns n objects")
        def test_sample_returns_n_objects(self, cpu_fabric):
            ...
"""

from __future__ import annotations

import functools
import inspect


class ContractViolation(AssertionError):
    """A component broke one clause of its contract; the message quotes the clause."""


def clause(text: str):
    """Mark a test as checking one clause of a contract, quoted in ``text``.

    An assertion (or any other error) inside the test is re-raised as :class:`ContractViolation` whose
    message names the test class, the contract, the clause and where the clause is documented (the test
    class's ``clause_source``), followed by the original message. Skips and fixtures work as usual.
    """

    def decorate(fn):
        contract = fn.__qualname__.split(".")[0]

        @functools.wraps(fn)
        def test(self, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except ContractViolation:
                raise
            except Exception as exc:
                source = getattr(type(self), "clause_source", "")
                where = f" ({source})" if source else ""
                what = "" if isinstance(exc, AssertionError) else f"{type(exc).__name__} while checking it: "
                detail = str(exc).strip() or type(exc).__name__
                raise ContractViolation(
                    f"{type(self).__name__} breaks a clause of {contract}{where}:\n"
                    f'  "{text}"\n{what}{detail}'
                ) from exc

        test.clause = text  # type: ignore[attr-defined]
        return test

    return decorate


def clauses(contract: type) -> dict[str, str]:
    """Test name -> clause text, for every clause-marked test of a conformance class (docs, reports)."""
    return {name: fn.clause for name, fn in inspect.getmembers(contract, callable) if hasattr(fn, "clause")}


__all__ = ["ContractViolation", "clause", "clauses"]
