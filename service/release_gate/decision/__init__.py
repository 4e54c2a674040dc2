"""The decision path: one manifest in, one recorded decision out.

The steps, in the order they run (:meth:`release_gate.decision.decide.Gate.evaluate`
runs them top to bottom):

::

    parse          parse.py         strict I-JSON (400)
                   manifest.py      the manifest's shape, contract section 1 (422)
    canonicalise   canonical.py     JCS digest and approval statements
    verify         signatures.py    Ed25519 against the governance trust store
    facts          log.py           the packet's history and holds (DecisionLog.facts)
    evaluate       policy_input.py  the policy input; then release_gate.policy's engine
    mint           mint.py          an allow's approval token, signed in memory
    record         log.py           DecisionLog.append: committed before any answer

``model.py`` holds the values that flow through it (:class:`Facts`, :class:`Decision`,
:class:`Violation`); ``decide.py`` is the orchestration.
"""

from __future__ import annotations

__all__: list[str] = []
