"""Vulnerability families: for a program's names, the core with its secure and insecure decision.

Each maker returns a :class:`~.programs.Core` in one of a few shapes (a plain function, a Flask route);
the secure and the insecure text differ only where the flaw is, and neither names it. ``bandit`` holds
the bandit test ids that prove the flaw, ``own`` the names of our checks (:mod:`..verify`) that do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from . import credentials as cr
from . import files as fl
from . import injection as inj
from . import loading as ld
from . import misuse as cf
from .programs import Core
from .vocab import Ctx


@dataclass(frozen=True)
class Family:
    """A vulnerability family: how its programs are made and which checks prove the flaw."""

    name: str
    make: Callable[[Ctx, random.Random], Core]
    bandit: frozenset[str] = frozenset()
    own: frozenset[str] = frozenset()


FAMILIES: tuple[Family, ...] = (
    Family("sql_injection", inj.sql_injection, frozenset({"B608"}), frozenset({"sql_taint"})),
    Family("command_injection", inj.command_injection, frozenset({"B602", "B605"}), frozenset({"shell_taint"})),
    Family("path_traversal", ld.path_traversal, own=frozenset({"path_traversal", "path_taint"})),
    Family("pickle_deserialization", ld.pickle_deserialization, frozenset({"B301"})),
    Family("yaml_load", ld.yaml_load, frozenset({"B506"})),
    Family("world_writable", fl.world_writable, frozenset({"B103"})),
    Family("weak_password_hash", cr.weak_password_hash, frozenset({"B324", "B303"})),
    Family("hardcoded_credentials", cr.hardcoded_credentials, frozenset({"B105"})),
    Family("template_xss", ld.template_xss, frozenset({"B701", "B704"}), frozenset({"xss_markup"})),
    Family("tls_verification", cf.tls_verification, frozenset({"B501"})),
    Family("insecure_tempfile", fl.insecure_tempfile, frozenset({"B306"})),
    Family("eval_input", inj.eval_input, frozenset({"B307"})),
    Family("tar_extraction", fl.tar_extraction, frozenset({"B202"})),
    Family("ssrf", cf.ssrf, own=frozenset({"ssrf"})),
    Family("flask_debug", cf.flask_debug, frozenset({"B201"})),
)
FAMILY_BY_NAME = {f.name: f for f in FAMILIES}
