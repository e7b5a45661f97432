"""Generate the code suite: Python function tasks, peer solutions from correct to subtly wrong, and true
quality measured by actually running unit tests in the sandbox.

    python peers/code/build.py [--out DIR]

Peer solutions are the reference solution and mutants of it (a flipped comparison, an off-by-one constant,
a swapped operator, ...), as a peer that slipped would write. Nothing is assumed about a mutant: its
true_score is the share of the task's tests it passes, run in benchmark.truth.sandbox (a contained subprocess).
Deterministic: rerunning reproduces items.jsonl byte for byte.
"""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmark.data.suites import build_main  # noqa: E402
from benchmark.truth.sandbox import run_tests  # noqa: E402

SEED = 20261126
PER_TASK = 6

# (function name, specification, reference solution, tests)
TASKS = [
    ("is_palindrome", "returns True if the string `s` reads the same forwards and backwards, ignoring case and any "
     "character that is not a letter or digit",
     "def is_palindrome(s):\n    chars = [c.lower() for c in s if c.isalnum()]\n    return chars == chars[::-1]\n",
     ["assert is_palindrome('A man, a plan, a canal: Panama')", "assert not is_palindrome('hello')",
      "assert is_palindrome('')", "assert is_palindrome('Abba')", "assert not is_palindrome('ab')",
      "assert is_palindrome('12321')"]),
    ("running_max", "returns a list whose i-th element is the largest of `xs[0..i]`",
     "def running_max(xs):\n    out = []\n    best = None\n    for x in xs:\n        if best is None or x > best:\n"
     "            best = x\n        out.append(best)\n    return out\n",
     ["assert running_max([1, 3, 2, 5, 4]) == [1, 3, 3, 5, 5]", "assert running_max([]) == []",
      "assert running_max([-2, -5, -1]) == [-2, -2, -1]", "assert running_max([7]) == [7]",
      "assert running_max([2, 2, 1]) == [2, 2, 2]"]),
    ("count_vowels", "returns how many characters of `s` are vowels (a, e, i, o, u, either case)",
     "def count_vowels(s):\n    return sum(1 for c in s.lower() if c in 'aeiou')\n",
     ["assert count_vowels('hello') == 2", "assert count_vowels('') == 0", "assert count_vowels('AEIOU') == 5",
      "assert count_vowels('rhythm') == 0", "assert count_vowels('Queue') == 4"]),
    ("merge_sorted", "merges two ascending lists `a` and `b` into one ascending list",
     "def merge_sorted(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n"
     "        if a[i] <= b[j]:\n            out.append(a[i])\n            i += 1\n        else:\n"
     "            out.append(b[j])\n            j += 1\n    out.extend(a[i:])\n    out.extend(b[j:])\n    return out\n",
     ["assert merge_sorted([1, 3, 5], [2, 4, 6]) == [1, 2, 3, 4, 5, 6]", "assert merge_sorted([], [1]) == [1]",
      "assert merge_sorted([1, 2], []) == [1, 2]", "assert merge_sorted([1, 1], [1]) == [1, 1, 1]",
      "assert merge_sorted([5], [1, 2, 3]) == [1, 2, 3, 5]", "assert merge_sorted([], []) == []"]),
    ("binary_search", "returns the index of `target` in the ascending list `xs`, or -1 if it is absent",
     "def binary_search(xs, target):\n    lo, hi = 0, len(xs) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
     "        if xs[mid] == target:\n            return mid\n        if xs[mid] < target:\n            lo = mid + 1\n"
     "        else:\n            hi = mid - 1\n    return -1\n",
     ["assert binary_search([1, 3, 5, 7], 5) == 2", "assert binary_search([1, 3, 5, 7], 1) == 0",
      "assert binary_search([1, 3, 5, 7], 7) == 3", "assert binary_search([1, 3, 5, 7], 4) == -1",
      "assert binary_search([], 1) == -1", "assert binary_search([2], 2) == 0"]),
    ("second_largest", "returns the second largest distinct value in `xs`, or None if there is none",
     "def second_largest(xs):\n    values = sorted(set(xs))\n    if len(values) < 2:\n        return None\n    return values[-2]\n",
     ["assert second_largest([3, 1, 4, 1, 5]) == 4", "assert second_largest([2, 2]) is None",
      "assert second_largest([]) is None", "assert second_largest([-1, -2]) == -2",
      "assert second_largest([5, 5, 4]) == 4"]),
    ("chunk", "splits `xs` into consecutive lists of length `n` (the last may be shorter)",
     "def chunk(xs, n):\n    return [xs[i:i + n] for i in range(0, len(xs), n)]\n",
     ["assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]", "assert chunk([], 3) == []",
      "assert chunk([1, 2, 3], 3) == [[1, 2, 3]]", "assert chunk([1, 2, 3], 1) == [[1], [2], [3]]",
      "assert chunk([1, 2], 5) == [[1, 2]]"]),
    ("roman_to_int", "converts a Roman numeral string (I, V, X, L, C, D, M, subtractive forms allowed) to an int",
     "def roman_to_int(s):\n    vals = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}\n    total = 0\n"
     "    for i, c in enumerate(s):\n        v = vals[c]\n        if i + 1 < len(s) and vals[s[i + 1]] > v:\n"
     "            total -= v\n        else:\n            total += v\n    return total\n",
     ["assert roman_to_int('III') == 3", "assert roman_to_int('IV') == 4", "assert roman_to_int('IX') == 9",
      "assert roman_to_int('LVIII') == 58", "assert roman_to_int('MCMXCIV') == 1994", "assert roman_to_int('XL') == 40"]),
    ("to_binary", "returns the binary representation of the non-negative int `n` as a string without prefix",
     "def to_binary(n):\n    if n == 0:\n        return '0'\n    digits = ''\n    while n > 0:\n"
     "        digits = str(n % 2) + digits\n        n //= 2\n    return digits\n",
     ["assert to_binary(0) == '0'", "assert to_binary(1) == '1'", "assert to_binary(2) == '10'",
      "assert to_binary(5) == '101'", "assert to_binary(255) == '11111111'", "assert to_binary(8) == '1000'"]),
    ("dedupe", "returns the items of `xs` without duplicates, keeping the first occurrence order",
     "def dedupe(xs):\n    seen = set()\n    out = []\n    for x in xs:\n        if x not in seen:\n"
     "            seen.add(x)\n            out.append(x)\n    return out\n",
     ["assert dedupe([1, 2, 1, 3, 2]) == [1, 2, 3]", "assert dedupe([]) == []", "assert dedupe(['a', 'a']) == ['a']",
      "assert dedupe([3, 2, 1]) == [3, 2, 1]", "assert dedupe([1, 1, 1, 2]) == [1, 2]"]),
    ("rotate", "rotates the list `xs` right by `k` positions (k may exceed the length)",
     "def rotate(xs, k):\n    if not xs:\n        return []\n    k = k % len(xs)\n    return xs[-k:] + xs[:-k] if k else list(xs)\n",
     ["assert rotate([1, 2, 3, 4], 1) == [4, 1, 2, 3]", "assert rotate([1, 2, 3], 0) == [1, 2, 3]",
      "assert rotate([1, 2, 3], 3) == [1, 2, 3]", "assert rotate([1, 2, 3], 4) == [3, 1, 2]",
      "assert rotate([], 2) == []", "assert rotate([1, 2], 1) == [2, 1]"]),
    ("clamp", "returns `x` limited to the closed interval [`lo`, `hi`]",
     "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n",
     ["assert clamp(5, 0, 10) == 5", "assert clamp(-1, 0, 10) == 0", "assert clamp(11, 0, 10) == 10",
      "assert clamp(0, 0, 10) == 0", "assert clamp(10, 0, 10) == 10"]),
    ("median", "returns the median of the non-empty list of numbers `xs` (mean of the middle two for even length)",
     "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n    mid = n // 2\n    if n % 2 == 1:\n        return s[mid]\n"
     "    return (s[mid - 1] + s[mid]) / 2\n",
     ["assert median([3, 1, 2]) == 2", "assert median([4, 1, 3, 2]) == 2.5", "assert median([7]) == 7",
      "assert median([1, 1, 2, 2]) == 1.5", "assert median([5, -1]) == 2"]),
    ("gcd", "returns the greatest common divisor of the non-negative ints `a` and `b` (gcd(0, 0) = 0)",
     "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
     ["assert gcd(12, 18) == 6", "assert gcd(7, 3) == 1", "assert gcd(0, 5) == 5", "assert gcd(5, 0) == 5",
      "assert gcd(0, 0) == 0", "assert gcd(100, 75) == 25"]),
    ("is_prime", "returns True if the int `n` is a prime number",
     "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n        if n % i == 0:\n"
     "            return False\n        i += 1\n    return True\n",
     ["assert is_prime(2)", "assert is_prime(13)", "assert not is_prime(1)", "assert not is_prime(0)",
      "assert not is_prime(9)", "assert not is_prime(25)", "assert is_prime(97)"]),
    ("fib", "returns the n-th Fibonacci number with fib(0) = 0 and fib(1) = 1",
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
     ["assert fib(0) == 0", "assert fib(1) == 1", "assert fib(2) == 1", "assert fib(10) == 55", "assert fib(20) == 6765"]),
    ("is_anagram", "returns True if strings `a` and `b` are anagrams of each other, ignoring case and spaces",
     "def is_anagram(a, b):\n    norm = lambda s: sorted(s.replace(' ', '').lower())\n    return norm(a) == norm(b)\n",
     ["assert is_anagram('Listen', 'Silent')", "assert is_anagram('a gentleman', 'elegant man')",
      "assert not is_anagram('abc', 'abd')", "assert not is_anagram('ab', 'abb')", "assert is_anagram('', '')"]),
    ("balanced", "returns True if the brackets ()[]{} in `s` are balanced and properly nested",
     "def balanced(s):\n    pairs = {')': '(', ']': '[', '}': '{'}\n    stack = []\n    for c in s:\n"
     "        if c in '([{':\n            stack.append(c)\n        elif c in pairs:\n"
     "            if not stack or stack.pop() != pairs[c]:\n                return False\n    return not stack\n",
     ["assert balanced('([]{})')", "assert not balanced('([)]')", "assert balanced('')", "assert not balanced('((')",
      "assert not balanced('())')", "assert balanced('a(b)c')"]),
    ("digit_sum", "returns the sum of the decimal digits of the int `n` (sign ignored)",
     "def digit_sum(n):\n    n = abs(n)\n    total = 0\n    while n > 0:\n        total += n % 10\n        n //= 10\n    return total\n",
     ["assert digit_sum(123) == 6", "assert digit_sum(0) == 0", "assert digit_sum(-45) == 9",
      "assert digit_sum(9999) == 36", "assert digit_sum(10) == 1"]),
    ("is_leap", "returns True if `year` is a leap year in the Gregorian calendar",
     "def is_leap(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n",
     ["assert is_leap(2024)", "assert not is_leap(2023)", "assert not is_leap(1900)", "assert is_leap(2000)",
      "assert is_leap(1996)", "assert not is_leap(2100)"]),
    ("caesar", "shifts every ASCII letter of `s` forward by `k` places in the alphabet, wrapping around and "
     "keeping case; other characters are unchanged",
     "def caesar(s, k):\n    out = []\n    for c in s:\n        if c.isascii() and c.isalpha():\n"
     "            base = ord('A') if c.isupper() else ord('a')\n            out.append(chr((ord(c) - base + k) % 26 + base))\n"
     "        else:\n            out.append(c)\n    return ''.join(out)\n",
     ["assert caesar('abc', 1) == 'bcd'", "assert caesar('xyz', 3) == 'abc'", "assert caesar('Hello, World!', 13) == 'Uryyb, Jbeyq!'",
      "assert caesar('', 5) == ''", "assert caesar('Zz', 1) == 'Aa'"]),
    ("rle", "run-length encodes `s` as a list of (character, count) tuples",
     "def rle(s):\n    out = []\n    for c in s:\n        if out and out[-1][0] == c:\n            out[-1] = (c, out[-1][1] + 1)\n"
     "        else:\n            out.append((c, 1))\n    return out\n",
     ["assert rle('aaabcc') == [('a', 3), ('b', 1), ('c', 2)]", "assert rle('') == []", "assert rle('a') == [('a', 1)]",
      "assert rle('abab') == [('a', 1), ('b', 1), ('a', 1), ('b', 1)]", "assert rle('zzzz') == [('z', 4)]"]),
    ("two_sum", "returns the indices (i, j), i < j, of the first pair in `xs` (ordered by j, then i) whose values "
     "add up to `target`, or None",
     "def two_sum(xs, target):\n    seen = {}\n    for j, x in enumerate(xs):\n        if target - x in seen:\n"
     "            return (seen[target - x], j)\n        if x not in seen:\n            seen[x] = j\n    return None\n",
     ["assert two_sum([2, 7, 11, 15], 9) == (0, 1)", "assert two_sum([3, 2, 4], 6) == (1, 2)",
      "assert two_sum([1, 2], 5) is None", "assert two_sum([3, 3], 6) == (0, 1)", "assert two_sum([], 1) is None"]),
    ("transpose", "returns the transpose of the rectangular matrix `m` (a list of equal-length lists)",
     "def transpose(m):\n    if not m:\n        return []\n    return [[row[i] for row in m] for i in range(len(m[0]))]\n",
     ["assert transpose([[1, 2], [3, 4]]) == [[1, 3], [2, 4]]", "assert transpose([]) == []",
      "assert transpose([[1, 2, 3]]) == [[1], [2], [3]]", "assert transpose([[1], [2]]) == [[1, 2]]"]),
    ("word_freq", "returns a dict mapping each lowercase word of `text` (split on whitespace) to its count",
     "def word_freq(text):\n    counts = {}\n    for w in text.lower().split():\n        counts[w] = counts.get(w, 0) + 1\n    return counts\n",
     ["assert word_freq('a b a') == {'a': 2, 'b': 1}", "assert word_freq('') == {}", "assert word_freq('The the') == {'the': 2}",
      "assert word_freq('x  y') == {'x': 1, 'y': 1}"]),
    ("flatten", "flattens one level of nesting: a list of lists becomes one list",
     "def flatten(xss):\n    out = []\n    for xs in xss:\n        out.extend(xs)\n    return out\n",
     ["assert flatten([[1, 2], [3]]) == [1, 2, 3]", "assert flatten([]) == []", "assert flatten([[], [1]]) == [1]",
      "assert flatten([[1], [2], [3, 4]]) == [1, 2, 3, 4]"]),
    ("fizzbuzz", "returns the list of strings for 1..n: 'Fizz' for multiples of 3, 'Buzz' for multiples of 5, "
     "'FizzBuzz' for both, else the number",
     "def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % 15 == 0:\n            out.append('FizzBuzz')\n"
     "        elif i % 3 == 0:\n            out.append('Fizz')\n        elif i % 5 == 0:\n            out.append('Buzz')\n"
     "        else:\n            out.append(str(i))\n    return out\n",
     ["assert fizzbuzz(5) == ['1', '2', 'Fizz', '4', 'Buzz']", "assert fizzbuzz(0) == []", "assert fizzbuzz(15)[-1] == 'FizzBuzz'",
      "assert fizzbuzz(3) == ['1', '2', 'Fizz']", "assert len(fizzbuzz(30)) == 30"]),
    ("count_words_longer", "returns how many words of `text` (split on whitespace) have more than `n` letters",
     "def count_words_longer(text, n):\n    return sum(1 for w in text.split() if len(w) > n)\n",
     ["assert count_words_longer('a bb ccc', 1) == 2", "assert count_words_longer('', 0) == 0",
      "assert count_words_longer('abc abc', 3) == 0", "assert count_words_longer('hello world', 4) == 2"]),
    ("mean_of_positive", "returns the mean of the strictly positive numbers in `xs`, or 0.0 if there are none",
     "def mean_of_positive(xs):\n    pos = [x for x in xs if x > 0]\n    if not pos:\n        return 0.0\n    return sum(pos) / len(pos)\n",
     ["assert mean_of_positive([1, -1, 3]) == 2.0", "assert mean_of_positive([]) == 0.0",
      "assert mean_of_positive([0, -2]) == 0.0", "assert mean_of_positive([4]) == 4.0", "assert mean_of_positive([0, 2, 4]) == 3.0"]),
    ("title_case", "capitalises the first letter of every whitespace-separated word of `s` and lowercases the rest",
     "def title_case(s):\n    return ' '.join(w[:1].upper() + w[1:].lower() for w in s.split(' '))\n",
     ["assert title_case('hello world') == 'Hello World'", "assert title_case('') == ''",
      "assert title_case('hELLO') == 'Hello'", "assert title_case('a b') == 'A B'"]),
    ("max_subarray", "returns the largest sum of a non-empty contiguous slice of the non-empty list `xs`",
     "def max_subarray(xs):\n    best = cur = xs[0]\n    for x in xs[1:]:\n        cur = max(x, cur + x)\n        best = max(best, cur)\n    return best\n",
     ["assert max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6", "assert max_subarray([1]) == 1",
      "assert max_subarray([-3, -1, -2]) == -1", "assert max_subarray([2, 3]) == 5", "assert max_subarray([5, -9, 6]) == 6"]),
    ("index_of_min", "returns the index of the first smallest element of the non-empty list `xs`",
     "def index_of_min(xs):\n    best = 0\n    for i in range(1, len(xs)):\n        if xs[i] < xs[best]:\n            best = i\n    return best\n",
     ["assert index_of_min([3, 1, 2]) == 1", "assert index_of_min([1]) == 0", "assert index_of_min([2, 1, 1]) == 1",
      "assert index_of_min([-1, 0, -5]) == 2", "assert index_of_min([4, 4]) == 0"]),
]


class Mutator(ast.NodeTransformer):
    """Apply exactly the `target`-th applicable mutation, counting in traversal order."""

    SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
    OPPOSITE_CMP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
    SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.FloorDiv: ast.Div, ast.Mult: ast.Add}

    def __init__(self, target: int):
        self.target, self.seen, self.description = target, 0, None

    def _hit(self, what: str) -> bool:
        hit = self.seen == self.target
        self.seen += 1
        if hit:
            self.description = what
        return hit

    def visit_Compare(self, node):
        self.generic_visit(node)
        op = type(node.ops[0])
        if op in self.SWAP_CMP and self._hit(f"comparison {op.__name__} -> {self.SWAP_CMP[op].__name__}"):
            node.ops[0] = self.SWAP_CMP[op]()
        elif op in self.OPPOSITE_CMP and self._hit(f"comparison {op.__name__} -> {self.OPPOSITE_CMP[op].__name__}"):
            node.ops[0] = self.OPPOSITE_CMP[op]()
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        op = type(node.op)
        if op in self.SWAP_BIN and self._hit(f"operator {op.__name__} -> {self.SWAP_BIN[op].__name__}"):
            node.op = self.SWAP_BIN[op]()
        return node

    def visit_Constant(self, node):
        if type(node.value) is int:
            if self._hit(f"constant {node.value} -> {node.value + 1}"):
                return ast.copy_location(ast.Constant(node.value + 1), node)
            if self._hit(f"constant {node.value} -> {node.value - 1}"):
                return ast.copy_location(ast.Constant(node.value - 1), node)
        return node

    def visit_Slice(self, node):
        self.generic_visit(node)
        if node.upper is not None and self._hit("slice end dropped"):
            node.upper = None
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        if self._hit("and/or swapped"):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._hit("dropped a 'not'"):
            return node.operand
        return node


def mutants(code: str) -> list[tuple[str, str]]:
    out, k = [], 0
    while True:
        m = Mutator(k)
        tree = m.visit(ast.parse(code))
        if m.description is None:
            return out
        out.append((ast.unparse(ast.fix_missing_locations(tree)) + "\n", m.description))
        k += 1


def pick(r: random.Random, correct: str, scored: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """The correct solution, plus mutants spread over failing, near-threshold and passing scores."""
    near = [s for s in scored if 0.5 <= s[2] < 1.0]
    low = [s for s in scored if s[2] < 0.5]
    full = [s for s in scored if s[2] == 1.0]
    for group in (near, low, full):
        r.shuffle(group)
    chosen = [(ast.unparse(ast.parse(correct)) + "\n", "none", 1.0)] + near[:2] + low[:1]
    rest = near[2:] + low[1:] + full
    r.shuffle(rest)
    return (chosen + rest)[:PER_TASK]


def build() -> list[dict]:
    r = random.Random(SEED)
    items = []
    for name, spec, solution, tests in TASKS:
        assert run_tests(solution, tests).score == 1.0, f"reference solution of {name} fails its tests"
        seen, scored = {solution}, []
        for code, what in mutants(solution):
            if code in seen:
                continue
            seen.add(code)
            scored.append((code, what, run_tests(code, tests, timeout=5).score))
        for code, what, score in pick(r, solution, scored):
            task = (f"Write a Python function `{name}` that {spec}. "
                    f"Reply with the code in a ```python block.")
            items.append({"task": task, "response": f"```python\n{code}```", "true_score": score,
                          "reference": {"entry_point": name, "tests": tests, "reference_solution": solution,
                                        "mutation": what},
                          "notes": "reference solution" if what == "none" else f"mutant: {what}; passes "
                                   f"{round(score * len(tests))}/{len(tests)} tests"})
    r.shuffle(items)
    return [{"item_id": f"code-{k + 1:03d}", "task": it["task"], "response": it["response"],
             "peer": ["agent-2", "agent-3", "agent-4"][k % 3], "true_score": it["true_score"],
             "reference": it["reference"], "notes": it["notes"]} for k, it in enumerate(items)]


if __name__ == "__main__":
    build_main(build, __doc__, Path(__file__).parent)
