"""Firewall rules a bridge needs (iptables, whichever backend the host's `iptables` is).

lamina never routes a container's traffic off the host and never masquerades: the
rules only let a bridge's members talk among themselves and cut everything else that
would be *forwarded* into or out of it. (Published ports go through a userland proxy on
the host, so they need no forwarding.) A running dockerd sets the FORWARD policy to
DROP and turns on bridge-nf-call-iptables, which would drop bridged traffic too; the
ACCEPT rule keeps our bridges working beside it, as Docker's own rules do for its.

Each rule carries the comment "lamina <prefix> <network>": teardown removes exactly a
network's rules, and a restarted daemon sweeps rules of networks it no longer has.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable, Collection
from dataclasses import dataclass

from lamina.errors import FailedPrecondition, Internal
from lamina.networks import naming

Runner = Callable[[list[str]], str]


@dataclass(frozen=True)
class Rule:
    chain: str
    args: tuple[str, ...]  # the match and target, without the comment


def bridge_rules(bridge: str, *, internal: bool) -> list[Rule]:
    """A bridge's rules, first match first."""
    rules = [
        Rule("FORWARD", ("-i", bridge, "-o", bridge, "-j", "ACCEPT")),
        Rule("FORWARD", ("-i", bridge, "-j", "DROP")),
        Rule("FORWARD", ("!", "-i", bridge, "-o", bridge, "-j", "DROP")),
    ]
    if internal:
        # --internal: members cannot reach the host either, except to answer the
        # connections the host (a published port's proxy) opened to them.
        rules += [
            Rule(
                "INPUT",
                (
                    "-i",
                    bridge,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "RELATED,ESTABLISHED",
                    "-j",
                    "ACCEPT",
                ),
            ),
            Rule("INPUT", ("-i", bridge, "-j", "DROP")),
        ]
    return rules


def run_iptables(args: list[str]) -> str:
    binary = shutil.which("iptables")
    if binary is None:
        raise FailedPrecondition("iptables is not installed: networks need it for isolation")
    done = subprocess.run([binary, "-w", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Internal(f"iptables {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class Firewall:
    def __init__(self, prefix: str, run: Runner = run_iptables) -> None:
        self.prefix = prefix
        self.run = run

    def install(self, network_id: str, rules: list[Rule]) -> None:
        """Insert the rules at the top of their chains, in order; idempotent."""
        comment = naming.rule_comment(self.prefix, network_id)
        for rule in reversed(rules):
            spec = [*rule.args, "-m", "comment", "--comment", comment]
            try:
                self.run(["-C", rule.chain, *spec])
            except Internal:
                self.run(["-I", rule.chain, "1", *spec])

    def remove(self, network_id: str) -> None:
        self.sweep(keep=(), only=network_id)

    def sweep(self, *, keep: Collection[str], only: str | None = None) -> list[str]:
        """Delete this instance's rules except those of networks in `keep` (IDs); with
        `only`, just that network's. Returns the deleted rules."""
        deleted = []
        for chain in ("FORWARD", "INPUT"):
            for line in self.run(["-S", chain]).splitlines():
                network = self._network_of(line)
                if network is None or network in {k[:12] for k in keep}:
                    continue
                if only is not None and network != only[:12]:
                    continue
                self.run(["-D", *shlex.split(line)[1:]])
                deleted.append(line)
        return deleted

    def _network_of(self, line: str) -> str | None:
        if not line.startswith("-A ") or naming.instance_tag(self.prefix) not in line:
            return None
        words = shlex.split(line)
        comment = words[words.index("--comment") + 1] if "--comment" in words else ""
        tag = naming.instance_tag(self.prefix)
        return comment[len(tag) :] if comment.startswith(tag) else None
