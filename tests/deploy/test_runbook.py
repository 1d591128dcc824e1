"""docs/operations.md names only commands and options that exist, and has a section for each
alert (tests/deploy/test_rules.py checks the links)."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from coursestream.cli import main
from tests.deploy.tools import ROOT

RUNBOOK = ROOT / "docs" / "operations.md"
STOP = {"\\", "#", "&&", "||", ";", "|", ")"}


def invocations() -> list[list[str]]:
    """The words after each `coursestream` in the runbook's code, up to the end of its command."""
    text = RUNBOOK.read_text()
    code = re.findall(r"```\w*\n(.*?)```", text, re.DOTALL) + re.findall(r"`([^`\n]+)`", text)
    found = []
    for snippet in code:
        for line in snippet.replace("\\\n", " ").splitlines():  # continued lines joined
            words = line.split()
            for index, word in enumerate(words):
                # (not the namespace: `kubectl -n coursestream`, `create namespace coursestream`)
                before = words[index - 1] if index else ""
                if word == "coursestream" and not before.startswith("-") and before != "namespace":
                    rest = []
                    for each in words[index + 1:]:
                        if each in STOP or each.startswith("#"):
                            break
                        rest.append(each)
                    if rest:  # not `coursestream` named alone
                        found.append(rest)
    return found


def resolve(words: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The command path the words name, the command, and the words left (its arguments)."""
    command: click.Command = main
    path: list[str] = []
    rest = list(words)
    while isinstance(command, click.Group) and rest:
        name = rest[0].split("|")[0]  # `serve gateway|catalog`: the first of the choices
        found = command.get_command(click.Context(command), name)
        if found is None:
            break
        command, path, rest = found, [*path, name], rest[1:]
    return path, command, rest


def test_every_command_the_runbook_names_exists_with_its_options() -> None:
    seen = invocations()
    assert len(seen) > 15
    for words in seen:
        path, command, rest = resolve(words)
        assert path and not isinstance(command, click.Group), f"no such command: {words}"
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, result.output
        options = {opt for param in command.params for opt in param.opts}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"coursestream {' '.join(words)}: {word}"


def test_the_check_refuses_a_command_that_does_not_exist() -> None:
    path, command, _ = resolve(["streams", "rewind", "notify.sms"])
    assert path == ["streams"] and isinstance(command, click.Group)
    _, replay, _ = resolve(["streams", "replay", "x", "--into", "y"])
    assert "--into" in {opt for param in replay.params for opt in param.opts}
    assert "--rewind" not in {opt for param in replay.params for opt in param.opts}


def test_each_procedure_the_issue_asks_for_has_a_section() -> None:
    headings = set(re.findall(r"^## (.+)$", RUNBOOK.read_text(), re.MULTILINE))
    assert {"Deploy on Kubernetes", "Deploy with compose", "Scale each service", "Alerts",
            "Read the dashboard", "Replay a stream range into a debug group",
            "Retry dead letters", "Recover from a Redis loss", "Rotate the token signing key",
            "Back up and restore"} <= headings
