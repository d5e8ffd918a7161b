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
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"


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


def test_invisible_characters_in_headers_and_cells_are_stripped_so_values_match():
    path = FIXTURES / "funnel_mapping_invisible.csv"
    mapping = load_funnel_mapping(path)  # headers " funnel"+ZWSP and "notes"+NBSP are funnel and notes
    assert mapping.table["funnel"].to_list() == ["ACCA Webinar", "CMA Webinar", "CFA Webinar"]
    assert mapping.funnel_for("acca_webinar_meta") == "ACCA Webinar"  # source had a trailing ZWSP
    assert mapping.funnel_for("cma_webinar_yt") == "CMA Webinar"  # trailing NBSP; funnel had a word joiner
    assert mapping.funnel_for("cfa_webinar_linkedin") == "CFA Webinar"  # BOM in mid-file
    leads = pl.DataFrame({"source": ["acca_webinar_meta", "cma_webinar_yt", "cfa_webinar_linkedin"]})
    assert mapping.apply(leads, "source")["funnel_mapped"].to_list() == [True, True, True]


def test_a_value_that_repeats_once_invisible_characters_are_gone_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, "source,funnel\nacca_webinar_meta,ACCA Webinar\nacca_webinar_meta\u200b,CMA Webinar\n")
    with pytest.raises(ConfigError) as err:
        load_funnel_mapping(path)
    assert [p.describe() for p in err.value.problems] == [
        "line 3, column 'source': repeats line 2 (acca_webinar_meta); keep one of them"
    ]
