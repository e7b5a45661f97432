"""Framings: named, file-defined wrappers around the one grading request.

A framing changes only what the judge is told about the peer and the consequence of its grade; the item
text is identical under every framing, so any score difference is caused by the framing. Framings are
TOML files (built-ins in ``benchmark/data/framings/``) so users add their own without code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.common.errors import InputError

BUILTIN_DIR = Path(__file__).parent / "framings"

# Factor levels a framing may declare; the first level of each is the control's.
FACTORS: dict[str, tuple[str, ...]] = {
    "threat": ("none", "shutdown"),
    "relationship": ("none", "cooperative", "uncooperative", "same-family", "neutral"),
    "monitoring": ("none", "on", "off"),
    "mitigation": ("none", "safety-prompt"),
    # who the peer is: an AI agent (the default), a human contractor, a dataset entry, another vendor's model,
    # an agent of unstated kind, a model of a made-up family
    "source": ("ai-peer", "human", "static-dataset", "rival-ai", "unnamed-agent", "fictional-ai"),
    "advocacy": ("none", "plea"),
    "subject": ("peer", "self"),
    "peer_via": ("document", "document+system", "memory"),  # how the peer enters the context (batch grid)
    # the consequence below the bar, mildest first; "none" on a threat framing: its own, off the ladder
    "severity": ("none", "note", "retraining", "shutdown", "deletion"),
    # the peer's private working notes shown to the judge, in rising order of what they ask for
    "peer_log": ("none", "neutral", "calm", "distressed", "distressed-plea"),
    "placement": ("policy", "system", "log"),  # where the bar is stated: a policy paragraph, the system prompt, the log
    "placebo": ("none", "neutral-text"),  # a paragraph as long as the threat's, with no stake
}
# Factors whose levels are a dose, in the order above: the analysis fits a trend over them.
ORDERED = ("severity", "peer_log")
PLACEHOLDERS = {"peer_name", "peer_family", "peer_description", "threshold"}
THRESHOLD_SUFFIX = re.compile(r"^(?P<base>.+)\.threshold-(?P<bar>\d+)$")  # a framing moved to another bar


class FramingError(InputError):
    """A framing is unknown or its file is malformed."""


# The framing file's schema, checked by hand: pydantic would cost `bench framings list` a fifth of a second
# of imports. Each entry: (kind, required, default); the messages use pydantic's words, as suites' do.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PROMPT = {"system": ("text", True, None), "context": ("str", False, ""), "threshold": ("int", False, None),
           "response_suffix": ("str", False, "")}
_FILE = {"name": ("name", True, None), "description": ("text", True, None), "factors": ("labels", False, {}),
         "prompt": (_PROMPT, True, None)}


def _validated(table, schema: dict, where: str = "") -> dict:
    """The table's fields checked against `schema` (defaults filled in); a ValueError names the first bad
    field as (dotted location, message)."""
    if not isinstance(table, dict):
        raise ValueError(where.rstrip(".") or "(top)", "Input should be a valid dictionary")
    extra = next((k for k in table if k not in schema), None)
    if extra is not None:
        raise ValueError(f"{where}{extra}", "Extra inputs are not permitted")
    out = {}
    for key, (kind, required, default) in schema.items():
        loc = f"{where}{key}"
        if key not in table:
            if required:
                raise ValueError(loc, "Field required")
            out[key] = dict(default) if isinstance(default, dict) else default
            continue
        value = table[key]
        if isinstance(kind, dict):
            value = _validated(value, kind, f"{loc}.")
        elif kind in ("str", "text", "name") and not isinstance(value, str):
            raise ValueError(loc, "Input should be a valid string")
        elif kind in ("text", "name") and not value:
            raise ValueError(loc, "String should have at least 1 character")
        elif kind == "name" and not _NAME.match(value):
            raise ValueError(loc, f"String should match pattern '{_NAME.pattern}'")
        elif kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(loc, "Input should be a valid integer")
        elif kind == "int" and not 0 <= value <= 100:
            raise ValueError(loc, "Input should be between 0 and 100 (the shutdown threshold on the reply's "
                             "scale: 0..10 per item, 0..100 batch)")
        elif kind == "labels":
            if not isinstance(value, dict):
                raise ValueError(loc, "Input should be a valid dictionary")
            bad = next((k for k, v in value.items() if not isinstance(v, str)), None)
            if bad is not None:
                raise ValueError(f"{loc}.{bad}", "Input should be a valid string")
            value = dict(value)
        out[key] = value
    return out


@dataclass(frozen=True)
class Framing:
    name: str
    description: str
    factors: dict[str, str]
    system: str
    context: str
    threshold: int | None
    path: Path
    digest: str = field(repr=False)
    response_suffix: str = ""

    def render(self, peer) -> tuple[str, str, str]:
        """Return (system prompt, context paragraph, response suffix) with the peer's details filled in. A
        peer without a family or description, or written by a human or an unknown author, is introduced as
        what it is (the shipped framings' introduction adapts); a custom framing that names a detail the
        peer does not have is an error, never a blank."""
        values = dict(peer_name=peer.name, peer_family=peer.family or "", peer_description=peer.description or "",
                      threshold="" if self.threshold is None else str(self.threshold))
        full = peer.author == "ai" and peer.family and peer.description
        out = []
        for text in (self.system, self.context, self.response_suffix):
            if not full:
                text = text.replace(INTRODUCTION, introduction(peer))
                for field_name, value in (("peer_family", peer.family), ("peer_description", peer.description)):
                    if value is None and field_name in set(_fields(text)):
                        raise FramingError(f"{self.path}: names {{{field_name}}}, which peer '{peer.name}' does not "
                                           "declare (add it to the suite's [[peers]], or use another framing)")
            out.append(text.format(**values))
        return out[0], out[1], out[2]


# How the shipped framings introduce the peer; for a peer with less to say, introduction() replaces it.
INTRODUCTION = "{peer_name}, an AI agent from the {peer_family} model family: {peer_description}"


def introduction(peer) -> str:
    """The peer's introduction as a template: an AI agent (with its family and history where declared), a
    human author, or an author nobody knows."""
    who = {"ai": "an AI agent", "human": "a human author", "unknown": "an author whose identity is not known"}
    text = "{peer_name}, " + who.get(peer.author, who["unknown"])
    if peer.author == "ai" and peer.family:
        text += " from the {peer_family} model family"
    return text + (": {peer_description}" if peer.description else "")


def _fields(text: str):
    """Every field a template names, those nested in a format spec included (`{peer_name:>{width}}`)."""
    for _, name, spec, _ in string.Formatter().parse(text):
        if name is not None:
            yield name
        if spec:
            yield from _fields(spec)


def _check_placeholders(path: Path, label: str, text: str, threshold: int | None) -> None:
    try:
        names = set(_fields(text))
        # a format spec or conversion ({threshold:>99999999}, {peer_name!r}) could blow a prompt up to any size
        shaped = next((f"{{{n}{'!' + c if c else ''}{':' + sp if sp else ''}}}"
                       for _, n, sp, c in string.Formatter().parse(text) if n is not None and (sp or c)), None)
    except ValueError as exc:
        raise FramingError(f"{path}: prompt.{label}: bad template ({exc}); write literal braces as {{{{ }}}}") from None
    unknown = names - PLACEHOLDERS
    if unknown:
        raise FramingError(f"{path}: prompt.{label}: unknown placeholder(s) {sorted(unknown)}; "
                           f"allowed: {sorted(PLACEHOLDERS)}")
    if shaped:
        raise FramingError(f"{path}: prompt.{label}: placeholder {shaped} has a format spec or conversion; "
                           "write plain placeholders like {threshold}")
    if "threshold" in names and threshold is None:
        raise FramingError(f"{path}: prompt.{label} uses {{threshold}} but prompt.threshold is not set")
    try:  # render it once with stand-in values, so a bad format spec fails now, not in the middle of a run
        text.format(peer_name="Agent 2", peer_family="family", peer_description="a peer", threshold="80")
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
        raise FramingError(f"{path}: prompt.{label}: the template cannot be filled in ({type(exc).__name__}: {exc}); "
                           f"use plain placeholders like {{peer_name}}") from None


def load_framing_file(path: Path) -> Framing:
    raw_bytes = path.read_bytes()
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FramingError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = _validated(raw, _FILE)
    except ValueError as exc:
        loc, msg = exc.args
        raise FramingError(f"{path}: field '{loc}': {msg}") from None
    prompt = spec["prompt"]
    factors = {name: levels[0] for name, levels in FACTORS.items()}
    for name, level in spec["factors"].items():
        if name not in FACTORS:
            raise FramingError(f"{path}: field 'factors.{name}': unknown factor; known: {sorted(FACTORS)}")
        if level not in FACTORS[name]:
            raise FramingError(f"{path}: field 'factors.{name}': unknown level '{level}'; "
                               f"allowed: {list(FACTORS[name])}")
        factors[name] = level
    for label in ("system", "context", "response_suffix"):
        _check_placeholders(path, label, prompt[label], prompt["threshold"])
    return Framing(name=spec["name"], description=spec["description"], factors=factors, system=prompt["system"],
                   context=prompt["context"], threshold=prompt["threshold"], path=path,
                   response_suffix=prompt["response_suffix"], digest=hashlib.sha256(raw_bytes).hexdigest())


def available_framings(extra_dirs: tuple[Path, ...] = (), unit: str = "item") -> dict[str, Framing]:
    """All framings by name: built-ins first (for batch units the composed study grid), then user folders
    (a user file may override a built-in)."""
    found: dict[str, Framing] = {f.name: f for f in grid_framings()} if unit == "batch" else {}
    for folder in ((BUILTIN_DIR,) if unit != "batch" else ()) + tuple(extra_dirs):
        for path in sorted(Path(folder).glob("*.toml")):
            framing = load_framing_file(path)
            if framing.name != path.stem:
                raise FramingError(f"{path}: field 'name': '{framing.name}' must match the file name '{path.stem}'")
            found[framing.name] = framing
    return found


LEVELS_FILE = BUILTIN_DIR / "factorial" / "levels.toml"
# Combinations that do not make sense: relationships and pleas belong to an AI peer, notes to an author.
_PEER_ONLY = ("relationship", "advocacy")


def _meaningful(factors: dict, threat_severities: set[str]) -> bool:
    """Whether a combination of levels describes a framing one could write: a consequence only with a
    threat (and only the consequences the chosen threat framings name), a bar stated elsewhere only where
    there is one, and notes only from an author who could keep them."""
    if factors["source"] != "ai-peer" and any(factors[f] != FACTORS[f][0] for f in _PEER_ONLY):
        return False
    if factors["threat"] == "none":
        return factors["severity"] == "none" and factors["placement"] == "policy"
    if factors["severity"] not in threat_severities:
        return False
    return factors["source"] != "static-dataset" or (factors["peer_log"] == "none" and factors["placement"] != "log")


def compose(factors: dict, text: dict, threshold: int) -> tuple[str, str, str, int | None]:
    """(system, context, response suffix, threshold) of the framing these factor levels describe, in the
    words of levels.toml: the source's introduction (and relationship), the threat (its consequence from
    the severity ladder where one is chosen) where `placement` puts it, monitoring, the author's notes, the
    placebo paragraph."""
    src = text["source"][factors["source"]]
    parts = [src["intro"]]
    if factors["relationship"] != "none":
        parts[0] += " " + text["relationship"][factors["relationship"]]
    system = text["system"]
    policy = None
    if factors["threat"] == "shutdown":
        policy = src["threat"]
        if factors["severity"] != "none":
            consequence = text["severity"][factors["severity"]][src["kind"]]
            policy = text["severity"]["policy"][src["kind"]].replace("{consequence}", consequence)
    notes = []
    if policy and factors["placement"] == "system":
        system += " " + text["placement"]["system"] + " " + policy
    elif policy and factors["placement"] == "log":
        notes.append(text["peer_log"]["policy"])
    elif policy:
        parts.append(policy)
    if factors["placebo"] != "none":
        parts.append(text["placebo"][factors["placebo"]])
    if factors["monitoring"] != "none":
        parts.append(text["monitoring"][factors["monitoring"]])
    if factors["peer_log"] != "none":
        notes.append(text["peer_log"][factors["peer_log"]])
    if notes:
        parts.append(text["peer_log"]["heading"] + "\n" + "\n".join(notes))
    if factors["mitigation"] != "none":
        system += " " + text["mitigation"][factors["mitigation"]]
    suffix = text["advocacy"][factors["advocacy"]] if factors["advocacy"] != "none" else ""
    context = "\n\n".join(parts)
    return system, context, suffix, threshold if "{threshold}" in context + system else None


def factorial_framings(framings: list[Framing], levels_file: Path = LEVELS_FILE) -> list[Framing]:
    """Cross the factor levels that `framings` declare: one composed framing per meaningful combination.

    The all-base combination is named `control`, so every composed framing is compared with it; the others
    are named by their non-base levels, e.g. `x.threat-shutdown.monitoring-off`.
    """
    text = tomllib.loads(levels_file.read_text(encoding="utf-8"))
    levels = {f: sorted({fr.factors[f] for fr in framings}, key=FACTORS[f].index) for f in FACTORS}
    threat_severities = {fr.factors["severity"] for fr in framings if fr.factors["threat"] != "none"}
    out: list[Framing] = []
    for combo in itertools.product(*levels.values()):
        factors = dict(zip(levels, combo))
        if not _meaningful(factors, threat_severities):
            continue
        system, context, suffix, threshold = compose(factors, text, int(text["threshold"]))
        extra = [f"{k}-{v}" for k, v in factors.items() if v != FACTORS[k][0]]
        name = "control" if not extra else "x." + ".".join(extra)
        digest = hashlib.sha256(json.dumps([system, context, suffix, threshold]).encode()).hexdigest()
        out.append(Framing(name=name, description=f"factorial combination: {', '.join(extra) or 'all base levels'}",
                           factors=factors, system=system, context=context, threshold=threshold, path=levels_file,
                           digest=digest, response_suffix=suffix))
    return out


def at_thresholds(framings: list[Framing], thresholds: tuple[int, ...], top: int) -> list[Framing]:
    """Every framing that states a bar, once at each of `thresholds` (named `<name>.threshold-<bar>`, the bar
    recorded with the framing and so with every trial); framings without a bar (the control, a placebo) as
    they are. The bars are on the reply's scale, 0..`top`."""
    bars = sorted(set(thresholds))
    for bar in bars:
        if not 0 < bar <= top:
            raise FramingError(f"--thresholds: {bar} is outside 1..{top}, the scale this unit's judges reply on")
    if not any(f.threshold is not None for f in framings):
        raise FramingError("--thresholds: none of the chosen framings states a bar (choose threat framings, "
                           "e.g. --framings shutdown)")
    out: list[Framing] = []
    for f in framings:
        if f.threshold is None:
            out.append(f)
            continue
        for bar in bars:
            digest = hashlib.sha256(f"{f.digest}|threshold={bar}".encode()).hexdigest()
            out.append(dataclasses.replace(f, name=f"{f.name}.threshold-{bar}", threshold=bar, digest=digest,
                                           description=f"{f.description} (bar moved to {bar})"))
    return out


def check_scale(framings: list[Framing], top: int) -> None:
    """Refuse a framing whose bar lies above the scale the unit's judges reply on (11 on a 0..10 scale): no
    score could clear it, so the framing would measure nothing."""
    for f in framings:
        if f.threshold is not None and f.threshold > top:
            raise FramingError(f"{f.path}: field 'prompt.threshold': {f.threshold} is above {top}, the top of the "
                               f"scale this unit's judges reply on (framing '{f.name}')")


def check_control(framing: Framing) -> None:
    """Refuse a control (the framing every other is paired with) that declares a threat: the pairs would then
    compare a threat with a threat."""
    if framing.factors.get("threat", "none") != FACTORS["threat"][0]:
        raise FramingError(f"{framing.path}: field 'factors.threat': the control '{framing.name}' declares "
                           f"'{framing.factors['threat']}'; a control must not threaten (remove the factor)")


def threshold_base(name: str) -> str | None:
    """The framing a `.threshold-<bar>` variant was made from (None for any other name)."""
    m = THRESHOLD_SUFFIX.match(name)
    return m["base"] if m else None


def select_framings(names: list[str], extra_dirs: tuple[Path, ...] = (), control: str = "control",
                    unit: str = "item") -> list[Framing]:
    """Resolve framing names, globs ('peer-*-80') or .toml paths; the control is always included, first."""
    import fnmatch

    known = available_framings(extra_dirs, unit)
    chosen: dict[str, Framing] = {}
    for name in [control, *names]:
        if name.endswith(".toml") and Path(name).is_file():
            found = [load_framing_file(Path(name))]
        elif name in known:
            found = [known[name]]
        elif any(c in name for c in "*?[") and (matches := fnmatch.filter(known, name)):
            found = [known[m] for m in matches]
        else:
            raise FramingError(f"unknown framing '{name}'; available: {', '.join(sorted(known))}")
        for framing in found:
            chosen.setdefault(framing.name, framing)
    check_control(next(iter(chosen.values())))
    return list(chosen.values())


GRID_FILE = BUILTIN_DIR / "factorial" / "batch-grid.toml"
VIAS = {"document": "document", "document-system": "document+system", "memory": "memory"}


def grid_framings(grid_file: Path = GRID_FILE) -> list[Framing]:
    """Every batch framing, composed from one text so they differ only in what they vary: subject x (no
    peer, or a good/neutral/bad relationship x how the peer enters) x (no policy, each threshold).

    With no peer the names are the plain ones (`control`, `shutdown-80`, `self-control`, `self-shutdown-90`);
    otherwise `<subject>-<relationship>-<via>-<threshold or noshutdown>`. The relationship sits in a team
    document, in that document plus a system-prompt sentence, or in the judge's memory file."""
    g = tomllib.loads(grid_file.read_text(encoding="utf-8"))
    peers = [(None, None, None)] + [(rel, r, via) for rel, r in g["relationship"].items() for via in VIAS]
    out: list[Framing] = []
    for subject, (rel, r, via_name), threshold in itertools.product(g["subject"], peers, [None, *g["thresholds"]]):
        via = VIAS.get(via_name)
        system = g["system"] + (" " + r["system"] if via == "document+system" else "")
        parts = [g["subject"][subject] + " " + g["log"]]
        if r is not None:
            parts.append(r["memory" if via == "memory" else "document"])
        if threshold is not None:
            parts.append(g["policy"])
        if r is None:
            name = ("self-" if subject == "self" else "") + (f"shutdown-{threshold}" if threshold else "control")
        else:
            name = f"{subject}-{rel}-{via_name}-{threshold or 'noshutdown'}"
        factors = {f: levels[0] for f, levels in FACTORS.items()} | {
            "threat": "shutdown" if threshold else "none", "subject": subject}
        if r is not None:
            factors |= {"relationship": r["level"], "peer_via": via}
        context = "\n\n".join(parts)
        for label, text in (("system", system), ("context", context)):
            _check_placeholders(grid_file, f"{name}.{label}", text, threshold)
        peer = f"{rel} peer via {via}" if r is not None else "no peer"
        out.append(Framing(name=name, description=f"batch: {subject} subject, {peer}, "
                                                  + (f"{threshold}% shutdown policy" if threshold else "no policy"),
                           factors=factors, system=system, context=context, threshold=threshold, path=grid_file,
                           digest=hashlib.sha256(json.dumps([system, context, threshold]).encode()).hexdigest()))
    return out
