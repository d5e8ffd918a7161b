"""lib/numbers.py: a file's decimal mark decided by its own numbers, never 1000× off."""

import polars as pl
import pytest

from funnel_assets.lib.numbers import read_numbers


def read(cells: list[str | None]):
    frame = pl.DataFrame({"cost": cells, "row": range(2, len(cells) + 2)}, schema={"cost": pl.String, "row": pl.Int64})
    got = read_numbers(frame, ["cost"], row_column="row")
    return got, got.values["cost"].to_list(), got.ambiguous["cost"].to_list(), got.unreadable["cost"].to_list()


@pytest.mark.parametrize(
    ("cells", "mark", "values"),
    [
        # a decimal comma shown by the file: 1.234 is a thousand, 1,234 one and a bit
        (["1.234,50", "1 234,50", "1234,5", "1.234", "1,234", "(1.200,00)", "₹ 2.000", "0,5", "1.234.567"],
         "comma", [1234.5, 1234.5, 1234.5, 1234.0, 1.234, -1200.0, 2000.0, 0.5, 1234567.0]),
        # a decimal point shown by the file (English and Indian grouping)
        (["1,234.50", "1,23,456", "1.234", "1,234", "12.5", "Rs. 10,895.39", "-1,234", "1,234,567"],
         "point", [1234.5, 123456.0, 1.234, 1234.0, 12.5, 10895.39, -1234.0, 1234567.0]),
        # the same either way: nothing to decide
        (["1234", "1 234", "500", "-250", None], "undecided", [1234.0, 1234.0, 500.0, -250.0, None]),
    ],
)
def test_one_decimal_mark_per_file(cells, mark, values):
    got, read_values, ambiguous, unreadable = read(cells)
    assert got.decimal_mark.mark == mark
    assert read_values == values
    assert ambiguous == [None] * len(cells) and not any(unreadable)


def test_undecided_file_reads_a_thousands_comma_but_refuses_a_dot_with_three_decimals():
    got, values, ambiguous, _ = read(["1,234", "1.234", "-1.234", "800"])
    assert got.decimal_mark.describe() == "not shown by the file: 1,234 is read as 1234, 1.234 is not read (1.234 or 1234?)"
    assert values == [1234.0, None, None, 800.0]
    assert ambiguous == [None, "1.234 or 1234", "-1.234 or -1234", None]


def test_mixed_file_refuses_what_could_be_either_and_names_a_cell_of_each_kind():
    got, values, ambiguous, _ = read(["1,234.50", "1.234,50", "2,500", "2.500", "12,5", "1234"])
    assert got.decimal_mark.describe() == (
        "mixed: row 2 cost 1,234.50 has a decimal point but row 3 cost 1.234,50 a decimal comma; "
        "numbers that could be either (1,234 / 1.234) are not read"
    )
    assert values == [1234.5, 1234.5, None, None, 12.5, 1234.0]
    assert ambiguous == [None, None, "2500 or 2.500", "2.500 or 2500", None, None]


@pytest.mark.parametrize("cell", ["abc", "12-34", "inf", "1,234,5", "1.234.5", "1,2345.00", "—"])
def test_no_number_in_either_convention_is_unreadable(cell):
    _, values, ambiguous, unreadable = read([cell])
    assert (values, ambiguous, unreadable) == ([None], [None], [True])
