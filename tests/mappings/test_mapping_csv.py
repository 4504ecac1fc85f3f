import pytest
from hypothesis import given
from hypothesis import strategies as st

from adminpanel.spreadsheet import FORMULA_STARTS, defuse_formula, restore_formula
from mappings.mapping_csv import CsvFileError, decode_upload, export_lines, read_rows, sniff_delimiter
from mappings.names import display_server_name, normalize_server_name, server_name_problem

MB = 1024 * 1024


def rows_of(text, max_rows=10_000):
    rows, errors = read_rows(text, max_rows=max_rows)
    return [(r.line, r.server_name, r.username) for r in rows], [(e.line, e.reason) for e in errors]


def test_utf8_with_and_without_bom_decode_to_the_same_text():
    text = "server_name,username\nAïcha,aicha\n"
    assert decode_upload(text.encode("utf-8"), max_bytes=MB) == text
    assert decode_upload(b"\xef\xbb\xbf" + text.encode("utf-8"), max_bytes=MB) == text


def test_latin1_file_is_refused_with_a_clear_message():
    with pytest.raises(CsvFileError, match="not UTF-8"):
        decode_upload("Aïcha;aicha\n".encode("latin-1"), max_bytes=MB)


def test_binary_file_is_refused():
    with pytest.raises(CsvFileError, match="not a CSV"):
        decode_upload(b"PK\x03\x04\x00\x00", max_bytes=MB)


def test_oversize_file_is_refused_with_sizes_in_the_message():
    with pytest.raises(CsvFileError, match=r"The file \(5\.5 MB\) is over the 5 MB limit"):
        decode_upload(b"a,b\n" * (int(5.5 * MB) // 4), max_bytes=5 * MB)


@pytest.mark.parametrize("separator", [",", ";"])
def test_both_separators_are_read(separator):
    text = f"server_name{separator}username\nAïcha{separator}aicha\nJean, Baptiste{separator}jb\n"
    if separator == ",":
        text = 'server_name,username\nAïcha,aicha\n"Jean, Baptiste",jb\n'
    rows, errors = rows_of(text)
    assert rows == [(2, "Aïcha", "aicha"), (3, "Jean, Baptiste", "jb")]
    assert errors == []


def test_header_is_optional_and_blank_lines_and_trailing_cells_are_ignored():
    rows, errors = rows_of("Aïcha;aicha;;\n\n  \nMoussa;moussa\n")
    assert rows == [(1, "Aïcha", "aicha"), (4, "Moussa", "moussa")]
    assert errors == []


def test_row_with_a_wrong_number_of_cells_is_a_bad_row_with_its_line():
    rows, errors = rows_of("server_name,username\nAïcha,aicha\nlonely\nA,b,c\nMoussa,moussa\n")
    assert [r[0] for r in rows] == [2, 5]
    assert errors == [
        (3, "Expected 2 cells (server_name,username), found 1."),
        (4, "Expected 2 cells (server_name,username), found 3."),
    ]


def test_quoted_cell_over_two_lines_keeps_the_line_numbers_of_the_file():
    rows, _ = rows_of('server_name,username\n"Aïcha\nB",aicha\nMoussa,moussa\n')
    assert rows[0][0] == 2 and rows[1] == (4, "Moussa", "moussa")


def test_more_rows_than_the_limit_is_refused():
    text = "server_name,username\n" + "".join(f"S{i},u{i}\n" for i in range(11))
    with pytest.raises(CsvFileError, match="more than 10 rows"):
        read_rows(text, max_rows=10)
    assert len(read_rows(text, max_rows=11)[0]) == 11


def test_sniffing_counts_separators_on_the_first_line():
    assert sniff_delimiter("a;b\n") == ";"
    assert sniff_delimiter("\n\na,b\n") == ","
    assert sniff_delimiter("") == ","


def test_export_writes_a_bom_a_header_and_defuses_formulas():
    text = "".join(export_lines([("Aïcha", "aicha"), ("=HYPERLINK(1)", "bob"), ("Jean, B.", "jb")]))
    assert text.startswith("\ufeffserver_name,username\r\n")
    assert "'=HYPERLINK(1),bob" in text
    assert '"Jean, B.",jb' in text


def test_export_reads_back_to_the_same_pairs():
    pairs = [("Aïcha", "aicha"), ("=1+1", "bob"), ("Jean; B.", "jb"), ('Say "hi"', "x")]
    text = decode_upload("".join(export_lines(pairs)).encode("utf-8"), max_bytes=MB)
    rows, errors = rows_of(text)
    assert [(name, user) for _, name, user in rows] == pairs and errors == []


@given(st.text())
def test_defusing_a_cell_for_spreadsheets_is_undone_exactly(text):
    defused = defuse_formula(text)
    assert not defused.startswith(FORMULA_STARTS)
    assert restore_formula(defused) == text


NAMES = (
    st.text(max_size=40)
    .map(display_server_name)
    .filter(lambda name: name and server_name_problem(normalize_server_name(name)) is None)
)


@given(st.lists(st.tuples(NAMES, st.text(alphabet="abcdefghij_.@+-=' ", min_size=1, max_size=12)), max_size=8))
def test_an_export_reads_back_to_exactly_the_pairs_it_was_made_from(pairs):
    pairs = [(name, user.strip() or "u") for name, user in pairs]
    text = decode_upload("".join(export_lines(pairs)).encode("utf-8"), max_bytes=MB)
    rows, errors = rows_of(text)
    assert errors == []
    assert [(name, user) for _, name, user in rows] == pairs


@pytest.mark.parametrize("name", ["+1", "'+1", "''+1", "'abc", "-Jo", "@home", "=SUM(A1)", "'=1", "'"])
def test_names_that_start_like_a_formula_or_with_an_apostrophe_survive_the_round_trip(name):
    text = "".join(export_lines([(name, "bob")]))
    assert "\n=" not in text and "\n+" not in text and "\n-" not in text and "\n@" not in text
    rows, _ = rows_of(decode_upload(text.encode(), max_bytes=MB))
    assert rows[0][1:] == (name, "bob")
