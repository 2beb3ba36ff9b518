"""The help a user reads (``%%agent?``) and the configurable traits say the same, from one source."""

from __future__ import annotations

from typing import Any

import pytest

from agent_magics.core import defaults


@pytest.mark.parametrize(
    ("option", "trait", "help_text", "choices"),
    [
        ("--via", "via", defaults.VIA_HELP, defaults.VIA_CHOICES),
        ("--api", None, defaults.API_HELP, defaults.API_CHOICES),
        (None, "client_library", defaults.CLIENT_LIBRARY_HELP, defaults.CLIENT_LIBRARY_CHOICES),
    ],
)
def test_help_and_traits_agree(
    kernel: Any, option: str | None, trait: str | None, help_text: str, choices: Any
) -> None:
    if option is not None:
        page = " ".join(kernel.run("%%agent?").pages[0].split())  # argparse wraps lines
        assert f"{option} {{{','.join(choices)}}}" in page, page[:400]
        assert " ".join(help_text.split()) in page, (help_text, page[:2000])
    if trait is not None:
        traits = kernel.value(
            f"{{'help': get_ipython().magics_manager.registry['AgentMagics'].traits()[{trait!r}].help, "
            f"'values': list(get_ipython().magics_manager.registry['AgentMagics'].traits()[{trait!r}].values)}}"
        )
        assert traits == {"help": help_text, "values": list(choices)}


@pytest.mark.parametrize("code", ["%%agent_eval?", "%agent_eval --help"])
def test_agent_eval_help_lists_its_options_from_its_parser(kernel: Any, code: str) -> None:
    out = kernel.run(code)
    page = " ".join((out.pages[0] if out.pages else out.stdout).split())
    assert "usage: %%agent_eval " in page and "TARGET [TARGET ...]" in page, page[:300]
    for option in ("--data NAME", "--scorers", "--judge ENDPOINT", "--quiet", "store the EvalResult"):
        assert option in page, (option, page[:1500])
    assert defaults.EVAL_EXPERIMENT in page  # the default experiment, named where it is defined
