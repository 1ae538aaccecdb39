"""Docker-style generated container names: `<adjective>_<scientist>`."""

from __future__ import annotations

import secrets

_LEFT = (
    "admiring",
    "agitated",
    "amazing",
    "bold",
    "brave",
    "busy",
    "clever",
    "cool",
    "dazzling",
    "eager",
    "elated",
    "epic",
    "festive",
    "focused",
    "gallant",
    "gifted",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "laughing",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "sweet",
    "tender",
    "trusting",
    "vibrant",
    "wizardly",
    "zealous",
)
_RIGHT = (
    "albattani",
    "babbage",
    "bohr",
    "curie",
    "darwin",
    "einstein",
    "euler",
    "fermi",
    "franklin",
    "galileo",
    "goodall",
    "hamilton",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "lovelace",
    "maxwell",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wozniak",
    "yalow",
)


def generate(taken: set[str]) -> str:
    """A random name not in `taken` (a digit is appended after collisions, as Docker)."""
    for attempt in range(50):
        name = f"{secrets.choice(_LEFT)}_{secrets.choice(_RIGHT)}"
        if attempt > 5:
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    return f"lamina_{secrets.token_hex(6)}"
