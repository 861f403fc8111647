"""The bounded expression parser."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from thinkgym import expr as X


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(13 - 9) * (10 - 4)", 24),
        ("2 ^ 3 ^ 2", 512),
        ("2 ** 10", 1024),
        ("-3 + 5", 2),
        ("8 / 3 * 9", 24),
        ("7 × 6 ÷ 2 − 1", 20),
        ("1.5 * 4", 6),
        ("sqrt(16) + abs(-2)", 6),
    ],
)
def test_evaluate(text: str, value: int) -> None:
    tree = X.parse(text, functions={"sqrt", "abs"})
    assert X.evaluate(tree) == Fraction(value)


def test_round_trip_printing() -> None:
    for text in ["(1 + 2) * 3", "1 - (2 - 3)", "8 / (4 / 2)", "2 ^ (3 ^ 2)", "-(1 + 2) * 3"]:
        tree = X.parse(text)
        assert X.parse(X.to_str(tree)) == tree


def test_variables_and_implicit_multiplication() -> None:
    tree = X.parse("3x + 2(x - 1)", variables={"x"}, implicit_mul=True)
    x = sympy.Symbol("x")
    assert sympy.expand(X.to_sympy(tree) - (5 * x - 2)) == 0
    assert X.variables(tree) == {"x"}
    assert X.evaluate(tree, {"x": Fraction(2)}) == 8
    with pytest.raises(X.ExprError, match="unknown name 'y'"):
        X.parse("y + 1", variables={"x"})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1 +",
        "(1 + 2",
        "1 2",
        "__import__('os')",
        "1 $ 2",
        "(" * 500 + "1" + ")" * 500,
        "1+" * 2000 + "1",
        "x" * 5000,
    ],
)
def test_malformed_or_oversized_input_raises_exprerror(text: str) -> None:
    with pytest.raises(X.ExprError):
        X.evaluate(X.parse(text))


@pytest.mark.parametrize("text", ["9^9^9^9", "10^(10^10)", "2^100000", "(1/3)^20000"])
def test_huge_powers_are_refused(text: str) -> None:
    tree = X.parse(text)
    with pytest.raises(X.ExprError):
        X.evaluate(tree)
    with pytest.raises(X.ExprError):
        X.to_sympy(tree)


def test_division_by_zero_and_irrational() -> None:
    with pytest.raises(X.ExprError, match="division by zero"):
        X.evaluate(X.parse("1 / (2 - 2)"))
    with pytest.raises(X.ExprError, match="not rational"):
        X.evaluate(X.parse("sqrt(2)", functions={"sqrt"}))


def test_leaves_in_order() -> None:
    assert X.leaves(X.parse("(13 - 9) * (10 - 4)")) == [13, 9, 10, 4]


# -- one package: two front ends, one set of evaluators, one set of limits -----------------------


@pytest.mark.parametrize(
    "text", ["1 + 2 * 3", "(13 - 9) * (10 - 4)", "2 ^ 3 ^ 2", "8 / 3 * 9", "-3 + 5"]
)
def test_both_front_ends_build_the_same_tree(text: str) -> None:
    assert X.parse_latex(text) == X.parse(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("\\frac{1}{2} + \\frac13", Fraction(5, 6)),
        ("2\\sqrt{9}", 6),
        ("5!", 120),
        ("\\binom{5}{2}", 10),
        ("2⁴", 16),
        ("8^{2/3}", 4),
        ("0.\\overline{3}", Fraction(1, 3)),
        ("1.5e3", 1500),
    ],
)
def test_latex_front_end_values(text: str, value: Fraction) -> None:
    assert X.exact(X.parse_latex(text)) == value
    assert X.evaluate(X.parse_latex(text)) == value


@pytest.mark.parametrize("text", ["5 6", "1 000", "2^3 4", "5\\,6", "2\\frac{1}{2}", "4\\frac12"])
def test_two_numbers_side_by_side_are_refused_not_multiplied(text: str) -> None:
    with pytest.raises(X.ParseError, match="side by side|ambiguous"):
        X.parse_latex(text)


def test_a_number_next_to_a_name_or_bracket_is_still_a_product() -> None:
    assert X.exact(X.parse_latex("3(4)")) == 12
    assert X.exact(X.parse_latex("10^{2} 3")) == 300
    assert X.exact(X.parse_latex("2 \\cdot \\frac{1}{2}")) == 1
    assert X.variables(X.parse_latex("2\\frac{\\pi}{x}")) == {"x"}
    assert X.variables(X.parse_latex("2 x")) == {"x"}


def test_exact_is_none_for_values_that_are_not_rational() -> None:
    for text in ["\\sqrt{2}", "\\pi", "x + 1", "\\sin(1)", "2^{1/2}", "(-8)^{1/3}"]:
        assert X.exact(X.parse_latex(text)) is None
    with pytest.raises(X.ExprError, match="not rational|no value"):
        X.evaluate(X.parse_latex("\\sqrt{2}"))


@pytest.mark.parametrize(
    "text",
    [
        "factorial(10^7)",
        "factorial(2.5)",
        "(10^{400})!",
        "\\binom{3001}{2}",
        "1e99999",
        "9" * 1300,
        "x^{1000}",
        "2^{10^{10}}",
        "①",
        "\\frac{" * 200 + "1" + "}{2}" * 200,
    ],
)
def test_latex_bounds_are_checked_before_the_work(text: str) -> None:
    with pytest.raises(X.ExprError):
        X.parse_latex(text)


def test_evaluators_bound_hand_built_trees_too() -> None:
    big = ("call", "factorial", ("num", Fraction(10**7)))
    with pytest.raises(X.ExprError, match="exceeds"):
        X.evaluate(big)
    with pytest.raises(X.ExprError, match="exceeds"):
        X.to_sympy(big)
    with pytest.raises(X.ExprError, match="natural"):
        X.evaluate(("call", "factorial", ("num", Fraction(5, 2))))
    with pytest.raises(X.NumericError):
        X.numeric(big, {})
    with pytest.raises(X.ExprError, match="exceeds"):
        X.apply("pow", 3, 10**9)
    with pytest.raises(X.ExprError, match="division by zero"):
        X.apply("div", 1, 0)
    assert X.apply("div", 6, 3) == 2 and type(X.apply("div", 6, 3)) is int
    assert X.apply("div", 1, 3) == Fraction(1, 3)


def test_callers_cannot_loosen_the_limits() -> None:
    with pytest.raises(X.ExprError, match="limit is 2000"):
        X.parse("1+" * 1500 + "1", max_chars=10**9)
    with pytest.raises(X.ExprError):
        X.parse("(" * 100 + "1" + ")" * 100, max_depth=10**9)
    with pytest.raises(X.ExprError, match="digits"):
        X.parse("9" * (X.MAX_DIGITS + 1))
    assert X.evaluate(X.parse("2 ^ 100"), max_bits=10**9) == 2**100


# ---------------------------------------------------------------------- the answer front end
from thinkgym.expr import answers as A  # noqa: E402


@pytest.mark.parametrize(
    ("text", "kwargs", "answer", "how"),
    [
        ("so \\boxed{5} and then \\boxed{\\frac{1}{2}}", {}, "\\frac{1}{2}", "boxed"),
        ("Answer: 3 but \\boxed{7}", {}, "7", "boxed"),  # a box beats every other marker
        ("48 / 2 = 24\n#### 1,200", {}, "1,200", "marker"),
        ("#### 7\nAnswer: 8", {}, "7", "marker"),
        ("#### 7", {"marker": False}, "#### 7", "whole"),
        ("The final answer is: 42.", {}, "42", "phrase"),
        ("**Answer:** 12", {}, "12", "phrase"),
        ("She has 42 apples left.", {"last_number": True}, "42", "last_number"),
        ("She has 42 apples left.", {}, "She has 42 apples left.", "whole"),
        ("x^2 + 1", {}, "x^2 + 1", "whole"),
    ],
)
def test_extract_finds_the_answer_in_order(text, kwargs, answer, how):
    found = A.extract(text, **kwargs)
    assert (found.text, found.how, found.cut) == (answer, how, False)


def test_extract_reads_only_the_tail_and_says_so():
    found = A.extract("1 & " * 20_000 + "1")
    assert found.cut and found.how == "whole" and len(found.text) <= A.ANSWER_TAIL
    assert A.extract("x" * 100_000 + " \\boxed{3}").text == "3"
    assert A.extract(None).text == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["not 34", "less than 34", "at least 34", "34 or more", "maybe 34", "34 (approximately)",
     "I don't know, 34", "about 34", "34 or so", "no more than 34", "between 3 and 4",
     "I am not sure, 34", "perhaps 34", "up to 34"],
)  # fmt: skip
def test_hedges_are_not_one_value(text):
    assert "hedges" in A.hedge(text)


@pytest.mark.parametrize("text", ["34", "34 apples", "She needs 18 more minutes", "x = 3"])
def test_values_are_not_hedges(text):
    assert A.hedge(text) == ""


def test_hedge_signs_and_negations_are_switchable():
    assert A.hedge("x ≥ 34") and A.hedge("34?") and A.hedge("~34") and A.hedge("x \\geq 3")
    assert A.hedge("x ≥ 34", signs=False) == "" and A.hedge("1 \\pm 2", signs=False) == ""
    assert A.hedge(", not 4", negation=False) == ""  # "3, not 4" commits to 3
    assert A.hedge("or more", negation=False)  # a qualifier after a value still hedges it


@pytest.mark.parametrize(
    "text", ["print(70)", "__import__('os')", "exit(0)", "answer(70)", "os.system('x')", "```70```"]
)
def test_code_is_not_a_value(text):
    assert "program code" in A.code(text)


@pytest.mark.parametrize("text", ["sqrt(2)", "\\frac{1}{2}", "max(3, 4)", "3 (x + 1)", "70"])
def test_math_is_not_code(text):
    assert A.code(text) == ""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", Fraction(42)),
        ("-3.5", Fraction(-7, 2)),
        (".5", Fraction(1, 2)),
        ("1,200", Fraction(1200)),
        ("$18.50", Fraction(37, 2)),
        ("5/3", Fraction(5, 3)),
        ("-6/4", Fraction(-3, 2)),
        ("\\frac{5}{3}", Fraction(5, 3)),
        ("-\\dfrac{5}{3}", Fraction(-5, 3)),
        ("\\frac{-5}{3}", Fraction(-5, 3)),
        ("7.", Fraction(7)),
        ("+3", Fraction(3)),
    ],
)
def test_number_value_reads_one_literal(text, value):
    assert A.number_value(text) == value


@pytest.mark.parametrize(
    "text",
    ["9 - 6", "3^1", "(11 + 7)/(5 - 2)", "2x", "x", "", "1/0", "\\frac{1}{0}", "1e5", "3 4",
     "1" * 61, "five", "1.5/2", "25%"],
)  # fmt: skip
def test_number_value_refuses_everything_else(text):
    assert A.number_value(text) is None


def test_number_value_percent_is_opt_in():
    assert A.number_value("25%", percent=True) == Fraction(1, 4)
    assert A.number_value("12\\%", percent=True) == Fraction(3, 25)
