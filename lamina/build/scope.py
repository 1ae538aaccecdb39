"""The ARG values a stage can see, and variable expansion with them.

Docker's rules: an ARG is in scope from its declaration to the end of its stage; its
value is the `--build-arg` if given, else its default (expanded), else, for an ARG
before the first FROM re-declared without a default, that global value. ENV values
win over ARGs of the same name in expansion and in RUN's environment. Which words are
expanded at all is up to each instruction (RUN, CMD and ENTRYPOINT are not: their
shell does that).
"""

from __future__ import annotations

from collections.abc import Mapping

from lamina.build.plan import PREDEFINED_ARGS
from lamina.dockerfile.instructions import ArgInstr
from lamina.dockerfile.words import Lexer


class Scope:
    def __init__(
        self,
        *,
        lexer: Lexer,
        build_args: Mapping[str, str],
        meta_args: Mapping[str, str | None],
    ) -> None:
        self.lexer = lexer
        self._build_args = build_args
        self._meta = meta_args
        self.args: dict[str, str] = {}  # in scope and with a value, in declaration order

    def declare(self, instr: ArgInstr, env: Mapping[str, str]) -> str:
        """Bring an ARG into scope; returns its history text (`ARG NAME=value`)."""
        name = instr.name
        if name in self._build_args:
            value: str | None = self._build_args[name]
        elif instr.default is not None:
            value = self.word(instr.default, env)
        else:
            value = self._meta.get(name)
        if value is None:
            self.args.pop(name, None)
            return f"ARG {name}"
        self.args.pop(name, None)  # re-declaring moves it last, as a new declaration
        self.args[name] = value
        return f"ARG {name}={value}"

    def variables(self, env: Mapping[str, str]) -> dict[str, str]:
        """What `$NAME` means here: ARGs, overridden by ENV."""
        return {**self.args, **env}

    def word(self, text: str, env: Mapping[str, str]) -> str:
        return self.lexer.process_word(text, self.variables(env))

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        return self.lexer.process_words(text, self.variables(env))

    def run_args(self, env: Mapping[str, str]) -> dict[str, str]:
        """Build args a RUN sees in its environment: those in scope that ENV does not
        override, and the proxy variables when given (Docker passes them undeclared)."""
        out = {k: v for k, v in self.args.items() if k not in env}
        for name in sorted(PREDEFINED_ARGS & self._build_args.keys()):
            if name not in env and name not in out:
                out[name] = self._build_args[name]
        return out
