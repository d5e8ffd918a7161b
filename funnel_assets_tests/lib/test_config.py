"""Editable configuration CSVs: loading, validation and the funnel mapping."""

from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib.config import (
    OTHER_SOURCES_FUNNEL,
    ConfigError,
    load_funnel_mapping,
)

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "config" / "funnel_mapping.csv"


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path = tmp_path / "funnel_mapping.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_shipped_mapping_loads():
    mapping = load_funnel_mapping(SHIPPED)
    assert mapping.funnel_for("acca_webinar_meta") == "ACCA Webinar"


def test_lookup_is_case_and_space_insensitive_and_unknown_goes_to_miscellaneous(tmp_path):
    mapping = load_funnel_mapping(write(tmp_path, "\ufeffSource , Funnel\n ACCA_FinProClub ,ACCA Community\n\n"))
    assert mapping.funnel_for("acca_finproclub  ") == "ACCA Community"
    assert mapping.funnel_for("brand_new_campaign") == OTHER_SOURCES_FUNNEL
    assert mapping.funnel_for(None) == OTHER_SOURCES_FUNNEL
    frame = pl.DataFrame({"source": ["ACCA_FINPROCLUB", "nope", None]})
    out = mapping.apply(frame, "source")
    assert out["funnel"].to_list() == ["ACCA Community", OTHER_SOURCES_FUNNEL, OTHER_SOURCES_FUNNEL]
    assert out["funnel_mapped"].to_list() == [True, False, False]
    assert out["source"].to_list() == frame["source"].to_list()  # order kept


def test_every_problem_is_reported_with_file_line_and_column(tmp_path):
    path = write(tmp_path, "source,funnel\nacca_x,ACCA\n,CMA\ncma_y,\nACCA_X,Other\n")
    with pytest.raises(ConfigError) as err:
        load_funnel_mapping(path)
    text = str(err.value)
    assert str(path) in text
    assert "line 3, column 'source': is empty" in text
    assert "line 4, column 'funnel': is empty" in text
    assert "line 5, column 'source': repeats line 2" in text
    assert len(err.value.problems) == 3


@pytest.mark.parametrize(
    "content, expected",
    [
        ("source\nacca,ACCA\n", "missing column(s) funnel"),
        ("source,funnel,owner\n", "unknown column(s) owner"),
        ("", "is empty"),
        ('source,funnel\nacca,"ACCA, Webinar",x,y\n', "line 2: has 4 values"),
    ],
)
def test_malformed_files(tmp_path, content, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_funnel_mapping(write(tmp_path, content))


def test_missing_file_and_wrong_encoding(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_funnel_mapping(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="save it as 'CSV UTF-8'"):
        load_funnel_mapping(write(tmp_path, "source,funnel\ncafé,Café\n", encoding="cp1252"))
