"""Small things a new reader trips over (issue 22, item 10): file modes, the README naming
the contract it checks, and the schemathesis recipe's reproduction line."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest

from conformance.contract._spec import Contract
from conformance.run._results import write_json_atomic

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_results_json_is_as_readable_as_the_files_beside_it(tmp_path):
    write_json_atomic(tmp_path / "results.json", {"a": 1})
    (tmp_path / "report.html").write_text("<html></html>")
    mode = stat.S_IMODE((tmp_path / "results.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "report.html").stat().st_mode)


def test_the_readme_names_the_vendored_contract_by_its_title_and_version():
    info = Contract.load(None, profile="strict").document["info"]
    assert f"**{info['title']}, version {info['version']}**" in README


def test_the_readme_installs_the_extra_from_the_checkout_not_from_the_package_index():
    assert "pip install 'conformance[schemathesis]'" not in README
    assert "$ pip install -e '.[schemathesis]'" in README


def test_the_recipe_shows_max_tokens_as_sent_and_still_hides_the_key():
    pytest.importorskip("schemathesis")
    from schemathesis.config._output import SanitizationConfig
    from schemathesis.core.output.sanitization import sanitize_value

    block = re.search(r"```toml\n(\[output\.sanitization\].*?)```", README, re.S).group(1)
    config = SanitizationConfig.from_dict(tomllib.loads(block)["output"]["sanitization"])
    body = {"model": "m", "max_tokens": 8, "max_completion_tokens": 8, "top_logprobs": 2}
    headers = {"Authorization": "Bearer sk-secret", "X-Api-Key": "sk-secret"}
    sanitize_value(body, config=config)
    sanitize_value(headers, config=config)
    assert body == {"model": "m", "max_tokens": 8, "max_completion_tokens": 8, "top_logprobs": 2}
    assert headers == {"Authorization": "[Filtered]", "X-Api-Key": "[Filtered]"}
