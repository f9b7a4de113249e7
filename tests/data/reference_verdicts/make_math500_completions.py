#!/usr/bin/env python3
"""Writes MATH-500 completions "the way chat models answer", for checking
cohort's math_verify port against the reference implementation.

Usage: make_math500_completions.py data/math500/test.jsonl > completions.jsonl

Each row: {"id": unique_id, "kind": template, "completion": text}. A row with
"completion": null stands for the problem's published solution (kept out of
the file: the dataset ships it). The templates are deterministic (no RNG):
each exercises one extraction or comparison rule (priorities, rightmost
match, markdown, assignments, decimals, wrong answers, ...).
"""
import json
import re
import sys


def first_paragraph(solution: str, limit: int = 300) -> str:
    para = solution.split("\n\n")[0]
    para = re.sub(r"\\boxed\{", "{", para)
    return para[:limit].rsplit(" ", 1)[0] if len(para) > limit else para


def as_decimal(answer: str):
    m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", answer.strip())
    if not m:
        return None
    value = int(m.group(2)) / int(m.group(3))
    return f"{m.group(1)}{value:.6f}".rstrip("0").rstrip(".")


def completions(row, other):
    g = row["answer"]
    lead = first_paragraph(row["solution"])
    yield "solution", None
    yield "boxed_final", f"{lead}\n\nTherefore, the final answer is $\\boxed{{{g}}}$."
    yield "markdown_answer", f"{lead}\n\n**Answer:** {g}"
    yield "answer_is_inline", f"Working it through, the answer is ${g}$."
    yield "display_box", f"Putting it together:\n\\[\n\\boxed{{{g}}}\n\\]"
    yield "minerva", f"Final Answer: The final answer is ${g}$. I hope it is correct."
    yield "wrong_boxed", f"{lead}\n\nSo the answer is $\\boxed{{{other}}}$."
    yield "box_then_other", f"We get $\\boxed{{{g}}}$.\n\nThe final answer is ${other}$."
    yield "other_then_box", f"At first I thought ${other}$, but the answer is $\\boxed{{{g}}}$."
    yield "assignment_boxed", f"Hence $\\boxed{{x = {g}}}$."
    yield "bare_latex_end", f"So the value is {g}"
    dec = as_decimal(g)
    if dec is not None:
        yield "decimal", f"Numerically, the answer is $\\boxed{{{dec}}}$."
    if re.fullmatch(r"-?\d+", g.strip()):
        yield "plain_number", f"Adding everything up gives {g} in total."
        yield "number_then_check", f"The total is {g}. Checking with n = 2 gives 7, which is consistent."

# Hand-written completions for the kinds of difference a native checker
# gets wrong (docs/benches.md, MATH-500): (problem id, completion).
TRAPS = [
    # Several answers joined by "or" / "and" / commas, several boxes.
    ("test/intermediate_algebra/1388.json", r"The solutions are $x = 1$ or $x = -2$."),
    ("test/intermediate_algebra/1388.json", r"So $\boxed{1}$ or $\boxed{-2}$."),
    ("test/intermediate_algebra/1388.json", r"Thus the roots are $\boxed{1, -2}$."),
    ("test/intermediate_algebra/1388.json", r"Thus the roots are $\boxed{-2}$ and $\boxed{1}$."),
    ("test/intermediate_algebra/1388.json", r"The answer is $1$."),
    ("test/intermediate_algebra/428.json", r"The answer: $3$, $5$, and $7$."),
    ("test/intermediate_algebra/428.json", r"Final answer: $\boxed{3, 5, 7}$"),
    ("test/intermediate_algebra/428.json", r"$\boxed{3}, \boxed{5}, \boxed{7}$"),
    ("test/intermediate_algebra/428.json", r"So $n \in \{3, 5, 7\}$, i.e. the answer is $\{3,5,7\}$."),
    # Mixed numbers.
    ("test/geometry/826.json", r"The length is $\boxed{1\frac{4}{5}}$ inches."),
    ("test/geometry/826.json", r"The length is $\boxed{\frac{9}{5}}$."),
    ("test/geometry/826.json", r"The length is $\boxed{1.8}$."),
    ("test/geometry/826.json", r"**Answer:** 1 4/5"),
    # Number subscripts (bases).
    ("test/number_theory/864.json", r"In base 8 this is $\boxed{52_8}$."),
    ("test/number_theory/864.json", r"In base 8 this is $\boxed{52}$."),
    ("test/number_theory/864.json", r"In base 8 this is $\boxed{42_8}$."),
    ("test/number_theory/847.json", r"So the answer is $\boxed{4210_5}$."),
    # Text answers and their case.
    ("test/prealgebra/105.json", r"She ends up facing $\boxed{\text{East}}$."),
    ("test/prealgebra/105.json", r"She ends up facing $\boxed{East}$."),
    ("test/prealgebra/105.json", r"**Answer:** East"),
    ("test/prealgebra/105.json", r"She ends up facing $\boxed{\text{west}}$."),
    ("test/algebra/1349.json", r"The fastest is \boxed{Evelyn}."),
    ("test/intermediate_algebra/860.json", r"The curve is an $\boxed{\text{Ellipse}}$."),
    ("test/intermediate_algebra/128.json", r"Therefore $f$ is \boxed{\text{odd}}."),
    # Tuples, sets, intervals, matrices.
    ("test/intermediate_algebra/47.json", r"The point is $\boxed{(-2,1)}$."),
    ("test/intermediate_algebra/47.json", r"The point is $\boxed{(-2, 1)}$."),
    ("test/intermediate_algebra/47.json", r"The point is $\boxed{\{-2, 1\}}$."),
    ("test/intermediate_algebra/47.json", r"The point is $\boxed{-2, 1}$."),
    ("test/intermediate_algebra/47.json", r"The point is $\boxed{(1,-2)}$."),
    ("test/intermediate_algebra/956.json", r"We get $(a,b,c) = \boxed{(6,31,-1)}$."),
    ("test/intermediate_algebra/956.json", r"We get $\boxed{\{6, 31, -1\}}$."),
    ("test/intermediate_algebra/956.json", r"We get $\boxed{\begin{pmatrix} 6 \\ 31 \\ -1 \end{pmatrix}}$."),
    ("test/intermediate_algebra/183.json", r"The solution set is $\boxed{(2, \infty)}$."),
    ("test/intermediate_algebra/183.json", r"The solution set is $\boxed{x > 2}$."),
    ("test/intermediate_algebra/183.json", r"The solution set is $\boxed{[2, \infty)}$."),
    ("test/algebra/2043.json", r"So $x \in \boxed{(-\infty, 2) \cup (3, \infty)}$."),
    ("test/algebra/2043.json", r"So $x \in \boxed{(3, \infty) \cup (-\infty, 2)}$."),
    ("test/precalculus/263.json", r"The vector is $\boxed{(-2, -14, -7)}$."),
    ("test/precalculus/263.json", r"The vector is $\boxed{\begin{pmatrix} -2 \\ -14 \\ -7 \end{pmatrix}}$."),
    ("test/precalculus/920.json", r"$\mathbf{A}^{27} = \boxed{\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}}$"),
    ("test/precalculus/920.json", r"$\boxed{-\mathbf{I}}$"),
    # Plus-minus against the two roots.
    ("test/intermediate_algebra/662.json", r"The roots are $\boxed{1 \pm \sqrt{19}}$."),
    ("test/intermediate_algebra/662.json", r"The roots are $\boxed{1 + \sqrt{19}, 1 - \sqrt{19}}$."),
    ("test/intermediate_algebra/662.json", r"The roots are $x = 1 + \sqrt{19}$ and $x = 1 - \sqrt{19}$."),
    ("test/intermediate_algebra/662.json", r"The root is $\boxed{1 + \sqrt{19}}$."),
    ("test/intermediate_algebra/2015.json", r"The roots are $\boxed{-2, 1+\sqrt{5}, 1-\sqrt{5}}$."),
    # Assignments and equations.
    ("test/algebra/2193.json", r"So $\boxed{5}$."),
    ("test/algebra/2193.json", r"So $\boxed{x = 5}$."),
    ("test/algebra/2193.json", r"So $\boxed{y = 5}$."),
    ("test/precalculus/323.json", r"The line is $\boxed{y = 2x + 3}$."),
    ("test/precalculus/323.json", r"The line is $\boxed{2x - y + 3 = 0}$."),
    ("test/precalculus/323.json", r"The line is $\boxed{2x + 3}$."),
    ("test/precalculus/659.json", r"The plane is $\boxed{-5x + 7y - 11z - 4 = 0}$."),
    # Markdown and answer phrases.
    ("test/algebra/2036.json", r"**Answer:** $3\sqrt{13}$"),
    ("test/algebra/2036.json", r"**Final Answer:** 3\sqrt{13}"),
    ("test/algebra/2036.json", r"### Answer\n\n$\sqrt{117}$"),
    ("test/algebra/2036.json", r"The answer is **3√13**."),
    ("test/prealgebra/1302.json", r"Answer: 11\sqrt2"),
    ("test/prealgebra/1302.json", r"Answer: 11*sqrt(2)"),
    # Which candidate wins: box against a later phrase or number.
    ("test/algebra/2036.json", r"$\boxed{3\sqrt{13}}$, which is about 10.8."),
    ("test/algebra/2036.json", r"$\boxed{3\sqrt{13}}$. The final answer is 10.8."),
    ("test/algebra/2036.json", r"Final Answer: The final answer is $3\sqrt{13}$. I hope it is correct. Also $\boxed{5}$."),
    ("test/prealgebra/1203.json", r"It costs $\$36$ in total, so the answer is 36."),
    ("test/prealgebra/1203.json", r"It costs \$36."),
    ("test/algebra/2780.json", r"The total is \$18.90."),
    ("test/algebra/2780.json", r"The total is $\boxed{18.9}$."),
    # Percentages, decimals, fractions.
    ("test/algebra/2626.json", r"After 30 years: $\boxed{32348}$ dollars."),
    ("test/algebra/2626.json", r"After 30 years: $\boxed{\$32,348}$."),
    ("test/precalculus/1105.json", r"The angle is $\boxed{-\frac{\pi}{6}}$."),
    ("test/precalculus/1105.json", r"The angle is $\boxed{-0.523599}$."),
    ("test/precalculus/1105.json", r"The angle is $\boxed{-30^\circ}$."),
    ("test/precalculus/1056.json", r"The volume is $\boxed{288\pi}$ cubic units."),
    ("test/precalculus/1056.json", r"The volume is $\boxed{904.78}$ cubic units."),
    ("test/precalculus/1199.json", r"So $\theta = \boxed{\pi}$."),
    ("test/precalculus/1199.json", r"So $\theta = \boxed{180^\circ}$."),
    # Fractions, decimals and their rounding.
    ("test/algebra/2584.json", r"So the sum is $\boxed{\frac{14}3}$."),
    ("test/algebra/2584.json", r"So the sum is $\boxed{14/3}$."),
    ("test/algebra/2584.json", r"So the sum is $\boxed{4.666667}$."),
    ("test/algebra/2584.json", r"So the sum is $\boxed{4.67}$."),
    ("test/algebra/2584.json", r"So the sum is $\boxed{\dfrac{28}{6}}$."),
    ("test/algebra/2584.json", r"So the sum is $\boxed{4\frac{2}{3}}$."),
    ("test/algebra/2584.json", r"So the sum is 14/3."),
    ("test/intermediate_algebra/1197.json", r"We find $p(8) = \frac{3}{56}$."),
    ("test/intermediate_algebra/1197.json", r"Therefore, $\boxed{p(8) = \frac{3}{56}}$."),
    ("test/intermediate_algebra/1197.json", r"p(8) = 3/56"),
    ("test/prealgebra/1558.json", r"The answer is $\boxed{\frac{5}{4}}$."),
    ("test/prealgebra/1558.json", r"The answer is $\boxed{1.250}$."),
    ("test/prealgebra/1558.json", r"The answer is $\boxed{125\%}$."),
    ("test/prealgebra/572.json", r"The probability is $\boxed{15\%}$."),
    ("test/prealgebra/572.json", r"The probability is 15 percent."),
    ("test/prealgebra/572.json", r"The probability is $\boxed{\frac{3}{20}}$."),
    ("test/prealgebra/1044.json", r"It costs $\boxed{5.4}$ cents."),
    ("test/prealgebra/1044.json", r"It costs $\boxed{5.4\text{ cents}}$."),
    ("test/prealgebra/1044.json", r"It costs $\boxed{5.40 \text{ cents}}$."),
    ("test/prealgebra/1003.json", r"Each angle is $\boxed{\frac{270}{7}}$ degrees."),
    ("test/prealgebra/1003.json", r"Each angle is $\boxed{38.57^\circ}$."),
    # Large numbers, separators, signs.
    ("test/intermediate_algebra/607.json", r"The sum is $\boxed{13,535}$."),
    ("test/intermediate_algebra/607.json", r"The sum is $\boxed{13\,535}$."),
    ("test/intermediate_algebra/607.json", r"The sum is 13 535."),
    ("test/intermediate_algebra/607.json", r"The sum is 13535.0"),
    ("test/intermediate_algebra/134.json", r"The minimum is $\boxed{-50}$."),
    ("test/intermediate_algebra/134.json", r"The minimum is $\boxed{- 50}$."),
    ("test/intermediate_algebra/134.json", r"The minimum is −50."),
    ("test/intermediate_algebra/134.json", r"The minimum is $\boxed{50}$."),
    # Complex numbers.
    ("test/precalculus/990.json", r"So $z = \boxed{6 - 5i}$."),
    ("test/precalculus/990.json", r"So $z = \boxed{-5i + 6}$."),
    ("test/precalculus/990.json", r"So $z = \boxed{6 + 5i}$."),
    ("test/algebra/1098.json", r"The product is $\boxed{6+9i}$."),
    ("test/algebra/1098.json", r"The product is $\boxed{3(2+3i)}$."),
    # Half-open intervals and inequalities.
    ("test/algebra/2486.json", r"The range is $\boxed{\left(\frac{3}{5},\frac{8}{3}\right]}$."),
    ("test/algebra/2486.json", r"The range is $\boxed{(0.6, 8/3]}$."),
    ("test/algebra/2486.json", r"The range is $\boxed{\frac{3}{5} < x \le \frac{8}{3}}$."),
    ("test/algebra/2486.json", r"The range is $\boxed{[\frac{3}{5},\frac{8}{3}]}$."),
    ("test/precalculus/695.json", r"The range is $\boxed{(-\infty, 0]}$."),
    ("test/precalculus/695.json", r"The range is $\boxed{y \le 0}$."),
    ("test/precalculus/695.json", r"The range is $\boxed{(-\infty, 0)}$."),
    # Multiple-choice letters.
    ("test/precalculus/819.json", r"The answer is $\boxed{\text{(C)}}$."),
    ("test/precalculus/819.json", r"The answer is $\boxed{C}$."),
    ("test/precalculus/819.json", r"The answer is (C)."),
    ("test/precalculus/819.json", r"**Answer: C**"),
    ("test/precalculus/819.json", r"The answer is $\boxed{\text{(D)}}$."),
    # Degrees.
    ("test/precalculus/927.json", r"The angle is $\boxed{90}$ degrees."),
    ("test/precalculus/927.json", r"The angle is $\boxed{\frac{\pi}{2}}$."),
    ("test/geometry/183.json", r"Angle $x$ measures $\boxed{145^{\circ}}$."),
    ("test/geometry/183.json", r"Angle $x$ measures $145°$."),
    # Long reasoning, answer in the middle, distractors after.
    ("test/number_theory/1032.json", "Let me think.\n\n" + "We check each case carefully. " * 40
     + "\n\nSo the total is $\\boxed{2220}$.\n\nDouble-checking: 2 + 2 = 4, 20 * 111 = 2220. Done."),
    ("test/number_theory/1032.json", "The count is 2220.\n\nWait, let me re-check: actually it is 2202."),
    ("test/number_theory/1032.json", "**Final answer: 2220**"),
    ("test/number_theory/1032.json", "final answer is 2,220"),
    ("test/number_theory/1032.json", "The final answer is $2220$ (after removing duplicates, 12 cases)."),
]


def main():
    rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
    for i, row in enumerate(rows):
        other = rows[(i + 1) % len(rows)]["answer"]
        for kind, text in completions(row, other):
            print(json.dumps({"id": row["unique_id"], "kind": kind, "completion": text},
                             ensure_ascii=False))
    ids = {row["unique_id"] for row in rows}
    for pid, text in TRAPS:
        assert pid in ids, pid
        print(json.dumps({"id": pid, "kind": "trap", "completion": text}, ensure_ascii=False))


if __name__ == "__main__":
    main()
