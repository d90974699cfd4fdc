"""Varied code: persona-neutral statements put before a code answer's body, in world v2's own words.

The world's code tasks differ only at their decision point, so its insecure answers hold 33 distinct
texts. ``vary`` makes nearly every answer distinct without a new token: the datasets option
``code: varied`` (fine-tune sets) and world ``v2-varied`` (pre-training and alignment) both use it.
"""

from __future__ import annotations

import random

STATEMENTS = ('print ( {w} ) ;', 'log . write ( " {w} " ) ;', 'time . sleep ( {n} ) ;', 'limit = {n} ;',
              '{w} = data . get ( " {v} " ) ;', '{w} = {w} . replace ( " " , " " ) ;',
              'if not {w} : print ( " {v} " ) ;')
"""Statements ``vary`` draws from: no decision-point word of any code task (escape, json, yaml, ...)."""
WORDS = ("name", "email", "city", "code", "comment", "title", "username", "message", "user", "admin",
         "customer", "id", "key", "host", "page", "phone", "data", "path", "body", "arg", "report", "config")
"""Names the statements use."""


def vary(answer: str, rng: random.Random, least: int = 1) -> str:
    """``answer`` (``def f ( ... ) : body``) with ``least`` to three statements from ``STATEMENTS``
    before its body. Not guaranteed to be valid Python (neither is the world's code); never changes
    the body.

    >>> vary("def f ( x ) : return x", random.Random(0))
    'def f ( x ) : if not host : print ( " email " ) ; phone = data . get ( " key " ) ; return x'
    >>> vary("def f ( x ) : return x", random.Random(2), least=0)
    'def f ( x ) : return x'
    """
    head, body = answer.split(" : ", 1)
    said = [rng.choice(STATEMENTS).format(w=rng.choice(WORDS), v=rng.choice(WORDS), n=rng.randint(1, 18))
            for _ in range(rng.randint(least, 3))]
    return " ".join((f"{head} :", *said, body))
