"""docs/reliability.md quotes how many bad inputs the tests try: the numbers come from the tests themselves."""

import re

import test_config_errors
import test_data_validation
from conftest import REPO

DOC = (REPO / "docs" / "reliability.md").read_text()


def test_the_counts_of_bad_inputs_match_the_tests():
    assert int(re.search(r"(\d+) broken sources", DOC)[1]) == len(test_data_validation.BROKEN)
    assert int(re.search(r"(\d+) bad configurations", DOC)[1]) == len(test_config_errors.BAD)


def test_every_test_the_doc_names_exists():
    for path, name in re.findall(r"`(tests/\w+\.py)::(\w+)", DOC):
        assert f"def {name}(" in (REPO / path).read_text(), f"{path}::{name}"
