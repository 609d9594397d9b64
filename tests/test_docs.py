"""The README documents what the code does."""

from pathlib import Path

from dedup.params import params_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_parameter_table_matches_the_defaults():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- params -->") + len("<!-- params -->") : text.index("<!-- /params -->")].strip()
    assert table == params_table(), "README parameter table is stale: run python -m dedup.params"
