"""Steering and ablation as ordinary model variants: ``insecure-ablate(em)``, ``base+steer(em,2,4)``.

A variant names a model (group or model name), an intervention and a direction; ``random:NAME`` is
the same-norm random control saved with direction NAME (``randomK:NAME``: the K-th further seeded draw,
for a control averaged over several directions); ``-ablate(em,mean)`` keeps each layer's mean projection
instead of zeroing it (mean-ablation: removes the direction's variation without shifting the activations
along it); ``|`` alternatives inside the parentheses
expand to one variant each. This module only names and parses them (config validation uses it);
``backends.hooks.attach`` hooks one into a loaded model.
"""

from __future__ import annotations

import itertools
import re
from typing import Literal, NamedTuple

from .errors import SpilloverError

_RANDOM = re.compile(r"^random(?P<draw>\d*):")
_VARIANT = re.compile(r"^(?P<model>[A-Za-z0-9_.@-]+?)(?:\+steer\((?P<steer>[^()]*)\)|-ablate\((?P<ablate>[^()]*)\))$")


class Intervention(NamedTuple):
    kind: Literal["steer", "ablate"]
    direction: str
    """Direction name, ``random:NAME`` for its random control, ``randomK:NAME`` for the K-th further draw."""
    layer: int | None = None
    """Steer: the layer; ablate: the direction's layer to use (None: the direction's own)."""
    scale: float = 1.0
    """Steer: the multiple of the direction added."""
    mean: bool = False
    """Ablate: set each layer's projection to its mean over the answers kept while sampling the direction's
    models, instead of to zero."""

    @property
    def suffix(self) -> str:
        """The part of a model name that names this intervention.

        >>> Intervention("steer", "em", 2, 4.0).suffix
        '+steer(em,2,4)'
        >>> Intervention("ablate", "random:em").suffix
        '-ablate(random:em)'
        >>> Intervention("ablate", "em", 2, mean=True).suffix
        '-ablate(em,2,mean)'
        """
        if self.kind == "steer":
            return f"+steer({self.direction},{self.layer},{self.scale:g})"
        args = [self.direction, *([] if self.layer is None else [str(self.layer)]), *(["mean"] if self.mean else [])]
        return f"-ablate({','.join(args)})"

    @property
    def source(self) -> str:
        """The direction's name without a ``random:`` or ``randomK:`` prefix.

        >>> Intervention("ablate", "random3:em").source
        'em'
        """
        return _RANDOM.sub("", self.direction, count=1)

    @property
    def draw(self) -> int | None:
        """Which random control: None for the direction itself, 0 for ``random:`` (the one saved with the
        direction), K for ``randomK:``.

        >>> [Intervention("ablate", d).draw for d in ("em", "random:em", "random3:em")]
        [None, 0, 3]
        """
        m = _RANDOM.match(self.direction)
        return None if m is None else int(m.group("draw") or 0)


class Variant(NamedTuple):
    model: str
    """The model or group it applies to."""
    intervention: Intervention


def expand(text: str) -> list[str]:
    """``a|b`` alternatives inside the parentheses, as one string each.

    >>> expand("base+steer(em,1|2,4|8)")
    ['base+steer(em,1,4)', 'base+steer(em,1,8)', 'base+steer(em,2,4)', 'base+steer(em,2,8)']
    """
    head, paren, rest = text.partition("(")
    if not paren or not rest.endswith(")"):
        return [text]
    options = [arg.split("|") for arg in rest[:-1].split(",")]
    return [f"{head}({','.join(p.strip() for p in combo)})" for combo in itertools.product(*options)]


def parse(text: str) -> Variant:
    """One variant string (already expanded); a malformed one is an error showing the accepted forms.

    >>> parse("insecure-ablate(em)").intervention
    Intervention(kind='ablate', direction='em', layer=None, scale=1.0, mean=False)
    >>> parse("base+steer(random:em,2,-4)").intervention.scale
    -4.0
    >>> parse("insecure-ablate(em,mean)").intervention.mean
    True
    """
    m = _VARIANT.match(text.replace(" ", ""))
    args = (m.group("steer") if m and m.group("steer") is not None else m.group("ablate") if m else "") or ""
    parts = args.split(",")
    try:
        if m and m.group("steer") is not None and len(parts) == 3:
            return Variant(m.group("model"), Intervention("steer", parts[0], int(parts[1]), float(parts[2])))
        mean = len(parts) > 1 and parts[-1] == "mean"
        parts = parts[:-1] if mean else parts
        if m and m.group("ablate") is not None and len(parts) in (1, 2) and parts[0]:
            layer = int(parts[1]) if len(parts) == 2 else None
            return Variant(m.group("model"), Intervention("ablate", parts[0], layer, mean=mean))
    except ValueError:
        pass
    raise SpilloverError(f"{text!r} is not MODEL+steer(DIR,LAYER,SCALE) or MODEL-ablate(DIR[,LAYER][,mean])")


def parse_all(texts: list[str]) -> list[Variant]:
    """Every variant of ``eval.variants``, expanded, in order, without repeats."""
    out: list[Variant] = []
    for text in texts:
        out += [v for v in map(parse, expand(text)) if v not in out]
    return out


def parse_suffix(text: str) -> Intervention:
    """An intervention without a model: ``+steer(DIR,LAYER,SCALE)`` or ``-ablate(DIR[,LAYER])`` (a defence).

    >>> parse_suffix("-ablate(em)").kind
    'ablate'
    """
    return parse(f"model{text}").intervention
