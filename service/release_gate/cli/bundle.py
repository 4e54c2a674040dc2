"""``release-gate bundle build``: the policies as an OPA bundle tarball.

Wiring (for ``release_gate.cli``): this module exposes

- ``add_parser(subparsers)``: adds ``bundle`` with its ``build`` subcommand to an
  ``argparse`` sub-parsers object and sets ``func=run_bundle_build`` on it, so
  ``bundle.add_parser(subparsers)`` is the one line to add;
- ``run_bundle_build(args: argparse.Namespace) -> int``: the handler. It prints
  ``{"bundle", "revision", "policy_digest", "sha256", "signed"}`` as JSON on
  stdout and returns 0, or prints problem details (``status`` 400) and returns 2.

The ``release_gate.cli`` core already registers it (``_COMMANDS``).

Usage::

    release-gate bundle build [--out FILE] [--policies DIR]
                              [--signing-key PEM] [--key-id ID] [--scope SCOPE]

``--out`` defaults to ``release-gate-bundle.tar.gz``; ``--policies`` to
``$RELEASE_GATE_POLICIES`` or ``policies/``. The signing key is an RSA or EC
private key in PEM (OPA does not verify EdDSA bundle signatures).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from release_gate.cli._common import add_policies_flag, print_json, print_problem, settings_from
from release_gate.errors import GateError
from release_gate.policy.bundle import load_bundle
from release_gate.policy.governance import GovernanceError, load_governance
from release_gate.policy.opa_bundle import build_bundle

__all__ = ["DEFAULT_OUT", "add_parser", "run_bundle_build"]

DEFAULT_OUT = "release-gate-bundle.tar.gz"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bundle build`` on ``subparsers`` (from ``add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bundle", help="package the policies for Open Policy Agent"
    )
    actions = parser.add_subparsers(dest="bundle_command", required=True)
    build = actions.add_parser("build", help="write the policies as an OPA bundle tarball")
    build.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help="tarball to write")
    add_policies_flag(build)
    build.add_argument("--signing-key", type=Path, default=None, help="RSA or EC private key PEM")
    build.add_argument("--key-id", default=None, help="key id OPA verifies the signature with")
    build.add_argument("--scope", default=None, help="signature scope OPA must be configured with")
    build.set_defaults(func=run_bundle_build)
    return parser


def run_bundle_build(args: argparse.Namespace) -> int:
    """Build the tarball; 0 on success, 2 (with problem details on stdout) otherwise."""
    try:
        policies = settings_from(args).policies
        load_governance(load_bundle(policies).governance)  # never ship data the gate refuses
    except GovernanceError as exc:
        return print_problem(exc)
    except GateError as exc:
        return print_problem(exc, status=400)
    try:
        out = build_bundle(
            policies,
            args.out,
            signing_key=args.signing_key,
            key_id=args.key_id,
            scope=args.scope,
        )
        bundle = load_bundle(policies)
    except GateError as exc:
        return print_problem(exc, status=400)
    print_json(
        {
            "bundle": str(out),
            "revision": bundle.revision,
            "policy_digest": bundle.digest,
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
            "signed": args.signing_key is not None,
        }
    )
    return 0
