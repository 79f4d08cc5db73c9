"""The lexer: token kinds and offsets, numbers versus symbols, and early errors."""

from __future__ import annotations

import pytest

from runner.expr import ExprSyntaxError
from runner.expr.lexer import EOF, KEYWORD, NUM, OP, STRING, TIMEFRAME, WORD, Token, tokenize


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(text)[:-1]]


def test_tokens_carry_offsets() -> None:
    assert tokenize("rsi <= 70") == [
        Token(WORD, "rsi", 0, 3),
        Token(OP, "<=", 4, 6),
        Token(NUM, "70", 7, 9),
        Token(EOF, "", 9, 9),
    ]


def test_whitespace_is_optional_and_any_kind() -> None:
    assert kinds("a<b") == kinds(" a \t<\n b  ")
    assert tokenize("  a  ")[-1] == Token(EOF, "", 5, 5)


def test_empty_text_is_only_the_end() -> None:
    assert tokenize("") == [Token(EOF, "", 0, 0)]


@pytest.mark.parametrize("text", ["1", "2.5", ".5", "1e-3", "1E+10", "1.", "007", "6e3"])
def test_numbers(text: str) -> None:
    assert kinds(text) == [(NUM, text)]


@pytest.mark.parametrize("text", ["6EH4", "1000SHIBUSDT", "_x", "x1", "ETHUSDT", "1e5x", "2x"])
def test_words_with_a_letter_are_identifiers(text: str) -> None:
    assert kinds(text) == [(WORD, text)]


def test_symbol_starting_with_digit_takes_a_dot() -> None:
    assert kinds("6EH4.close") == [(WORD, "6EH4"), (OP, "."), (WORD, "close")]


def test_number_followed_by_dot_name_is_not_one_token() -> None:
    assert kinds("1.close") == [(NUM, "1"), (OP, "."), (WORD, "close")]


def test_keywords() -> None:
    assert kinds("a and not b or true and false") == [
        (WORD, "a"),
        (KEYWORD, "and"),
        (KEYWORD, "not"),
        (WORD, "b"),
        (KEYWORD, "or"),
        (KEYWORD, "true"),
        (KEYWORD, "and"),
        (KEYWORD, "false"),
    ]


def test_keyword_prefix_is_a_plain_word() -> None:
    assert kinds("android notable") == [(WORD, "android"), (WORD, "notable")]


def test_strings_keep_quotes() -> None:
    assert kinds("\"America/Chicago\" 'UTC'") == [
        (STRING, '"America/Chicago"'),
        (STRING, "'UTC'"),
    ]


def test_timeframe_token_drops_the_at_sign() -> None:
    assert tokenize("close@1h")[1] == Token(TIMEFRAME, "1h", 5, 8)
    assert kinds("x@") == [(WORD, "x"), (TIMEFRAME, "")]
    assert kinds("x@1hour") == [(WORD, "x"), (TIMEFRAME, "1hour")]


def test_all_operators() -> None:
    ops = "+ - * / % < <= > >= == != = ( ) , ."
    assert [t.text for t in tokenize(ops)[:-1]] == ops.split()
    assert {t.kind for t in tokenize(ops)[:-1]} == {OP}


def test_two_char_operators_win_over_one() -> None:
    assert kinds("a<=-b") == [(WORD, "a"), (OP, "<="), (OP, "-"), (WORD, "b")]


@pytest.mark.parametrize(
    ("text", "start", "end", "hint"),
    [
        ("a && b", 2, 4, 'use "and" instead of "&&"'),
        ("a || b", 2, 4, 'use "or" instead of "||"'),
        ("!a", 0, 1, 'use "not" instead of "!"'),
    ],
)
def test_foreign_operators(text: str, start: int, end: int, hint: str) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        tokenize(text)
    error = info.value
    assert (error.start, error.end, error.hint) == (start, end, hint)
    assert text[start:end] in error.message


@pytest.mark.parametrize(("text", "offset"), [("a $ b", 2), ("x # y", 2), ("é", 0), ("a\x00", 1)])
def test_unknown_character(text: str, offset: int) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        tokenize(text)
    assert (info.value.start, info.value.end) == (offset, offset + 1)
    assert info.value.message.startswith("found an unexpected character")


def test_unprintable_character_is_named_by_code_point() -> None:
    with pytest.raises(ExprSyntaxError, match="U\\+0000"):
        tokenize("a\x00")


@pytest.mark.parametrize(("text", "offset"), [('hour(time, "UTC)', 11), ("'abc", 0), ('"a\nb"', 0)])
def test_unterminated_string_points_at_its_quote(text: str, offset: int) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        tokenize(text)
    assert (info.value.start, info.value.end) == (offset, offset + 1)
    assert "never closed" in info.value.message


def test_digits_without_a_letter_are_a_malformed_number() -> None:
    with pytest.raises(ExprSyntaxError) as info:
        tokenize("x > 1_000")
    assert (info.value.start, info.value.end) == (4, 9)
    assert "not a valid number" in info.value.message


def test_syntax_error_is_a_value_error_and_converts_to_issue() -> None:
    with pytest.raises(ValueError) as info:
        tokenize("a && b")
    assert isinstance(info.value, ExprSyntaxError)
    issue = info.value.to_issue()
    assert (issue.code, issue.start, issue.end) == ("expression-syntax", 2, 4)
    assert "use" in str(info.value)
