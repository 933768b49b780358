# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels of the pair checks' hot paths.

Each gives exactly what the Python code it stands in for gives (tests/test_kernels.py runs both
on the same inputs, real records and generated ones): :class:`TrailingMedian` and
:class:`Scorer` for ``converter.alignment``, :func:`numbers` and :func:`holds_number` for
``converter.anchors``, :func:`quick_script` and :func:`key_text` for the language and
duplicate checks. ``converter.kernels`` picks this module when it was built, else the Python code.
"""

from libc.math cimport fabs, log
from libc.stdlib cimport free, malloc, realloc

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index)
    bint PyUnicode_IS_ASCII(object)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)
    Py_ssize_t PyUnicode_Find(object text, object sub, Py_ssize_t start, Py_ssize_t end,
                              int direction) except -2
    int PyUnicode_Contains(object container, object element) except -1

#: Must equal converter.alignment's (tests/test_kernels.py checks).
RATIO_GROUPS = 64
REFRESH = 16
cdef long _RATIO_GROUPS = RATIO_GROUPS
cdef long _REFRESH = REFRESH

cdef frozenset _NO_STRINGS = frozenset()


cdef inline long _floordiv(long a, long b):
    cdef long q = a // b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef class TrailingMedian:
    """converter.alignment.TrailingMedian: the median of the values seen at the last
    RATIO_GROUPS group indexes, recomputed when the index enters a new block of REFRESH (and at
    every value while fewer than ``warmup`` are known)."""

    cdef readonly double value
    cdef readonly Py_ssize_t warmup
    cdef double default
    cdef long block
    cdef Py_ssize_t head, count, capacity
    cdef long *indexes
    cdef double *values
    cdef double *scratch

    def __cinit__(self, Py_ssize_t warmup=16, double default=0.0):
        self.warmup, self.default, self.value, self.block = warmup, default, default, -1
        self.head = self.count = 0
        self.capacity = 2 * _RATIO_GROUPS
        self.indexes = <long *>malloc(self.capacity * sizeof(long))
        self.values = <double *>malloc(self.capacity * sizeof(double))
        self.scratch = <double *>malloc(self.capacity * sizeof(double))
        if not (self.indexes and self.values and self.scratch):
            raise MemoryError()

    def __dealloc__(self):
        free(self.indexes)
        free(self.values)
        free(self.scratch)

    cdef void _grow(self) except *:
        """Double the ring (only when one index gets many values), keeping the order."""
        cdef Py_ssize_t n = self.capacity * 2, i
        cdef long *indexes = <long *>malloc(n * sizeof(long))
        cdef double *values = <double *>malloc(n * sizeof(double))
        cdef double *scratch = <double *>realloc(self.scratch, n * sizeof(double))
        if not (indexes and values and scratch):
            free(indexes)
            free(values)
            raise MemoryError()
        self.scratch = scratch
        for i in range(self.count):
            indexes[i] = self.indexes[(self.head + i) % self.capacity]
            values[i] = self.values[(self.head + i) % self.capacity]
        free(self.indexes)
        free(self.values)
        self.indexes, self.values, self.head, self.capacity = indexes, values, 0, n

    cpdef bint add(self, long index, object value) except -1:
        """Learn ``value`` (None: the group has none) at group ``index``; True when the typical
        value was recomputed."""
        cdef Py_ssize_t i, j, n
        cdef double x
        if value is not None:
            if self.count == self.capacity:
                self._grow()
            i = (self.head + self.count) % self.capacity
            self.indexes[i] = index
            self.values[i] = <double>value
            self.count += 1
        cdef long oldest = index - _RATIO_GROUPS
        while self.count and self.indexes[self.head] <= oldest:
            self.head = (self.head + 1) % self.capacity
            self.count -= 1
        cdef long block = _floordiv(index, _REFRESH)
        if block == self.block and self.count >= self.warmup:
            return False
        self.block = block
        n = self.count
        if n == 0:
            self.value = self.default
            return True
        for i in range(n):  # insertion sort: at most a few dozen values
            x = self.values[(self.head + i) % self.capacity]
            j = i
            while j > 0 and self.scratch[j - 1] > x:
                self.scratch[j] = self.scratch[j - 1]
                j -= 1
            self.scratch[j] = x
        self.value = self.scratch[n // 2]
        return True


cdef inline bint _blank(str text):
    """``not text or text.isspace()``."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    for i in range(n):
        if not Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)):
            return False
    return True


cdef inline bint _contains_any(str needle, str a, str b, str c) except -1:
    """``needle in f"{a}\\n{b}\\n{c}"`` for a needle without a newline."""
    return (PyUnicode_Contains(a, needle) or PyUnicode_Contains(b, needle)
            or PyUnicode_Contains(c, needle))


cdef class Scorer:
    """converter.alignment's pair scores: ``score`` is ``similarity``, ``learn`` feeds a
    pair's log length ratios to the learned medians."""

    cdef object record_type
    cdef object anchors_of

    def __init__(self, record_type, anchors_of):
        self.record_type, self.anchors_of = record_type, anchors_of

    cpdef double score(self, source, target, double centre_instruction,
                       double centre_output) except? -1000.0:
        """How well ``target`` fits as the translation of ``source``."""
        if type(source) is not self.record_type or type(target) is not self.record_type:
            return 0.0
        cdef str si = source.instruction, so = source.output
        cdef str ti = target.instruction, tin = target.input, to = target.output
        cdef double score = 1.0 if _blank(source.input) == _blank(tin) else -1.0
        cdef Py_ssize_t lsi = len(si), lso = len(so), lti = len(ti), lto = len(to)
        cdef double r0 = log(<double>(lti + 5) / <double>(lsi + 5))
        cdef double r1 = log(<double>(lto + 5) / <double>(lso + 5))
        if lsi and lti:
            score -= min(fabs(r0 - centre_instruction), 2.0)
        if lso and lto:
            score -= min(fabs(r1 - centre_output), 2.0)
        anchors = self.anchors_of(source)
        cdef frozenset numbers = anchors[0]
        cdef frozenset urls = anchors[1]
        cdef Py_ssize_t kept = 0
        cdef str item
        if numbers:
            for item in numbers:
                kept += _contains_any(item, ti, tin, to)
            score += 2.0 * kept / len(numbers) - 0.5
        if urls:
            for item in urls:
                if not _contains_any(item, ti, tin, to):
                    return score - 1.0
            return score + 1.0
        if _contains_any("://", ti, tin, to):
            score -= 1.0
        return score

    cpdef bint learn(self, source, target, TrailingMedian instruction,
                     TrailingMedian output) except -1:
        """Feed the pair's log length ratios at ``source.index`` (none when ``target`` is no
        record); True when either median was recomputed."""
        cdef long index = source.index
        cdef bint learned
        if type(target) is not self.record_type:
            learned = instruction.add(index, None)
            return output.add(index, None) or learned
        cdef Py_ssize_t lsi = len(source.instruction), lso = len(source.output)
        cdef Py_ssize_t lti = len(target.instruction), lto = len(target.output)
        learned = instruction.add(index, log(<double>(lti + 5) / <double>(lsi + 5)))
        return output.add(index, log(<double>(lto + 5) / <double>(lso + 5))) or learned


ctypedef unsigned char UCS1
ctypedef unsigned short UCS2
ctypedef unsigned int UCS4
ctypedef fused chars:  # the three widths of a str's characters: one loop compiled for each
    UCS1
    UCS2
    UCS4


cdef inline bint _is_digit(Py_UCS4 c) nogil:
    return 0x30 <= c <= 0x39


cdef Py_ssize_t _number_run(const chars *data, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *first,
                            Py_ssize_t *last, bint *comma) noexcept nogil:
    """The next number from ``i``: a run of digits, "." and "," from a digit to the last digit,
    two digits at least (``[0-9][0-9.,]*[0-9]``). Sets ``first``, ``last`` and ``comma``;
    returns the index after the run, or -1 when there is none."""
    cdef Py_UCS4 c
    while i < n:
        if not _is_digit(data[i]):
            i += 1
            continue
        first[0] = last[0] = i
        comma[0] = False
        i += 1
        while i < n:
            c = data[i]
            if _is_digit(c):
                last[0] = i
            elif c == 0x2C:
                comma[0] = True
            elif c != 0x2E:
                break
            i += 1
        if last[0] > first[0]:
            return i
    return -1


cdef Py_ssize_t _next_number(str text, Py_ssize_t i, Py_ssize_t *first, Py_ssize_t *last,
                             bint *comma) noexcept:
    """:func:`_number_run` on ``text``, whatever its width."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _number_run(<UCS1 *>data, n, i, first, last, comma)
    if kind == 2:
        return _number_run(<UCS2 *>data, n, i, first, last, comma)
    return _number_run(<UCS4 *>data, n, i, first, last, comma)


cdef inline str _number_at(str text, Py_ssize_t first, Py_ssize_t last, bint comma):
    """The number text[first:last + 1] as compared: without its commas."""
    cdef str number = text[first:last + 1]
    return number.replace(",", "") if comma else number


def numbers(str text):
    """converter.anchors' numbers of ``text``: the runs matching ``[0-9][0-9.,]*[0-9]``,
    commas removed."""
    cdef Py_ssize_t i = 0, first = 0, last = 0
    cdef bint comma = False
    cdef set found = None
    while True:
        i = _next_number(text, i, &first, &last, &comma)
        if i < 0:
            return _NO_STRINGS if found is None else frozenset(found)
        if found is None:
            found = set()
        found.add(_number_at(text, first, last, comma))


cdef inline bint _digit_like(Py_UCS4 c):
    return _is_digit(c) or 0xFF10 <= c <= 0xFF19


cdef inline bint _separator(Py_UCS4 c):
    return c == 0x2E or c == 0x2C or c == 0xFF0E or c == 0xFF0C


cdef bint _joins(int kind, void *data, Py_ssize_t n, Py_ssize_t at, Py_ssize_t step):
    if not 0 <= at < n:
        return False
    cdef Py_UCS4 c = PyUnicode_READ(kind, data, at)
    if _digit_like(c):
        return True
    cdef Py_ssize_t beyond = at + step
    return _separator(c) and 0 <= beyond < n and _digit_like(PyUnicode_READ(kind, data, beyond))


cdef bint _holds_whole(str text, str number) except -1:
    """converter.anchors.holds_number."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), width = PyUnicode_GET_LENGTH(number)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef Py_ssize_t at = PyUnicode_Find(text, number, 0, n, 1)
    while at >= 0:
        if not (_joins(kind, data, n, at - 1, -1) or _joins(kind, data, n, at + width, 1)):
            return True
        at = PyUnicode_Find(text, number, at + 1, n, 1)
    return False


def holds_number(str text, str number):
    """converter.anchors.holds_number: ``text`` holds ``number`` as a whole number."""
    return _holds_whole(text, number)


cdef inline bint _kana(Py_UCS4 c) nogil:
    return 0x3041 <= c <= 0x309F or 0x30A1 <= c <= 0x30FA


cdef inline bint _ascii_letter(Py_UCS4 c) nogil:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


#: What quick_script finds.
cdef enum Script:
    UNDECIDED, LATIN, JAPANESE, UNDETERMINED


cdef Script _script_of(const chars *data, Py_ssize_t n, double latin_share,
                       Py_ssize_t min_letters) noexcept nogil:
    cdef Py_ssize_t i, ascii_chars = 0, letters = 0
    cdef bint kana = False, word = False
    cdef Py_UCS4 c
    # past this many non-ASCII characters the text cannot be Latin nor 70% ASCII
    cdef double decided = n - min(0.7, latin_share) * n
    for i in range(n):
        c = data[i]
        if c < 0x80:
            ascii_chars += 1
            letters = letters + 1 if _ascii_letter(c) else 0
            if letters >= 3:
                word = True
        else:
            letters = 0
            if _kana(c):
                kana = True
            if kana and i + 1 - ascii_chars > decided:
                return JAPANESE
    if ascii_chars >= latin_share * n:
        return LATIN if n >= min_letters and word else UNDETERMINED
    if ascii_chars < 0.7 * n and kana:
        return JAPANESE
    return UNDECIDED


cdef Script _script(str text, double latin_share, Py_ssize_t min_letters):
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _script_of(<UCS1 *>data, n, latin_share, min_letters)
    if kind == 2:
        return _script_of(<UCS2 *>data, n, latin_share, min_letters)
    return _script_of(<UCS4 *>data, n, latin_share, min_letters)


cdef str _LATIN = "latin"
cdef str _JA = "ja"
cdef str _UND = "und"
cdef tuple _SCRIPT_NAMES = (None, _LATIN, _JA, _UND)


def quick_script(str text, double latin_share, Py_ssize_t min_letters):
    """The cheap tests of converter.builtin.checks.field_script: "latin" or "und" for (almost)
    all-ASCII text, "ja" for mostly non-ASCII text with kana; None when the classifier must
    decide."""
    return _SCRIPT_NAMES[_script(text, latin_share, min_letters)]


def key_text(str instruction, str input):
    """converter.builtin.checks.key_text: ``instruction`` and ``input`` casefolded, each run of
    whitespace one space (ASCII text in one pass here)."""
    if not (PyUnicode_IS_ASCII(instruction) and PyUnicode_IS_ASCII(input)):
        return " ".join(f"{instruction}\n{input}".casefold().split())
    cdef Py_ssize_t a = PyUnicode_GET_LENGTH(instruction), b = PyUnicode_GET_LENGTH(input)
    cdef const unsigned char *first = <const unsigned char *>PyUnicode_DATA(instruction)
    cdef const unsigned char *second = <const unsigned char *>PyUnicode_DATA(input)
    cdef char *out = <char *>malloc(a + b + 1)
    if not out:
        raise MemoryError()
    cdef Py_ssize_t i, k = 0
    cdef unsigned char c
    cdef bint gap = False  # whitespace seen since the last word
    try:
        for i in range(a + 1 + b):
            c = first[i] if i < a else (0x0A if i == a else second[i - a - 1])
            if Py_UNICODE_ISSPACE(c):
                gap = True
                continue
            if gap and k:
                out[k] = 0x20
                k += 1
            gap = False
            out[k] = c + 32 if 0x41 <= c <= 0x5A else c
            k += 1
        return out[:k].decode("ascii")
    finally:
        free(out)


#: ASCII characters that may start what only the full anchor scan reads ({ ` [_ % ://).
cdef unsigned char _SPECIAL_START[128]
for _c in (0x7B, 0x60, 0x5B, 0x25, 0x3A):  # { ` [ % :
    _SPECIAL_START[_c] = 1


cdef bint _special_in(const chars *data, Py_ssize_t n, bint ascii) noexcept nogil:
    cdef Py_ssize_t i
    cdef Py_UCS4 c, after
    for i in range(n):
        c = data[i]
        if c < 0x80:
            if not _SPECIAL_START[c]:
                continue
            if c == 0x7B or c == 0x60:  # { `
                return True
            after = data[i + 1] if i + 1 < n else 0
            if c == 0x5B and after == 0x5F:  # [_
                return True
            if c == 0x25 and (after == 0x73 or after == 0x64 or after == 0x69 or after == 0x66):
                return True  # %s %d %i %f
            if c == 0x3A and after == 0x2F and i + 2 < n and data[i + 2] == 0x2F:
                return True  # ://
        elif not ascii and 0xFF10 <= c <= 0xFF19:
            return True
    return False


cdef bint _special(str text):
    """Whether ``text`` holds what only converter.anchors' full scan reads: a full-width digit,
    "://", "{", "[_", a printf placeholder or a backtick."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _special_in(<UCS1 *>data, n, PyUnicode_IS_ASCII(text))
    if kind == 2:
        return _special_in(<UCS2 *>data, n, False)
    return _special_in(<UCS4 *>data, n, False)


def plain_numbers(str text):
    """converter.anchors.find_anchors' numbers of a text without URLs, placeholders, code or
    full-width digits (its only anchors then); None when the text holds any of those."""
    return None if _special(text) else numbers(text)


#: Bits of GroupScreen.screen: the checks that may find something in a group.
EMPTY = 1
LANGUAGE = 2
UNTRANSLATED = 4
PRESERVED = 8


cdef class GroupScreen:
    """Which of the stateless built-in checks may find something in a group: ``screen(group)``
    is a mask of EMPTY, LANGUAGE, UNTRANSLATED and PRESERVED, a bit clear only where that
    check's compare surely returns nothing (converter/screening.py; tests/test_kernels.py)."""

    cdef dict languages
    cdef double latin_share
    cdef Py_ssize_t min_letters, min_prose
    cdef int enabled

    def __init__(self, dict languages, double latin_share, Py_ssize_t min_letters,
                 Py_ssize_t min_prose, int enabled):
        """``languages``: code -> (takes ASCII unjudged, has an ``accepts`` test, scripts);
        the language check's thresholds; the fewest characters untranslated prose has; the
        mask of the checks the run has on (the others are not looked at)."""
        self.languages, self.latin_share, self.min_letters = languages, latin_share, min_letters
        self.min_prose, self.enabled = min_prose, enabled

    cpdef int screen(self, list group) except -1:
        """The mask of checks to run on ``group`` (records, the source first)."""
        cdef list records = [(r.lang, r.instruction, r.input, r.output) for r in group]
        cdef int found = 0, enabled = self.enabled
        if enabled & EMPTY:
            found |= self._empty(records)
        if enabled & LANGUAGE:
            found |= self._language(records)
        if enabled & UNTRANSLATED:
            found |= self._untranslated(records)
        if enabled & PRESERVED:
            found |= self._preserved(records)
        return found

    cdef int _empty(self, list records) except -1:
        cdef Py_ssize_t blank_inputs = 0
        cdef tuple record
        for record in records:
            if _blank(record[1]) or _blank(record[3]):
                return EMPTY
            blank_inputs += _blank(record[2])
        return 0 if blank_inputs == 0 or blank_inputs == len(records) else EMPTY

    cdef int _language(self, list records) except -1:
        cdef tuple lang, record
        cdef str text
        cdef Script script
        cdef frozenset scripts
        cdef Py_ssize_t f
        for record in records:
            lang = self.languages[record[0]]
            scripts = lang[2]
            for f in (1, 3):  # instruction, output
                text = record[f]
                if lang[0] and PyUnicode_IS_ASCII(text):
                    continue
                if lang[1]:
                    return LANGUAGE
                script = _script(text, self.latin_share, self.min_letters)
                if script == UNDECIDED:
                    return LANGUAGE
                if script == UNDETERMINED or not scripts or _SCRIPT_NAMES[script] in scripts:
                    continue
                return LANGUAGE
        return 0

    cdef int _untranslated(self, list records) except -1:
        cdef tuple source = records[0], record
        cdef Py_ssize_t k, f, least = self.min_prose
        for k in range(1, len(records)):
            record = records[k]
            for f in range(1, 4):
                if _same(record[f], source[f], least):
                    return UNTRANSLATED
        return 0

    cdef int _preserved(self, list records) except -1:
        cdef tuple source = records[0], record
        cdef str field, number
        cdef Py_ssize_t f, i, k, first = 0, last = 0
        cdef bint comma = False
        for f in range(1, 4):
            if _special(source[f]):
                return PRESERVED
        for f in range(1, 4):
            field = source[f]
            i = 0
            while True:
                i = _next_number(field, i, &first, &last, &comma)
                if i < 0:
                    break
                number = _number_at(field, first, last, comma)
                for k in range(1, len(records)):
                    record = records[k]
                    if not (_holds_whole(record[1], number) or _holds_whole(record[2], number)
                            or _holds_whole(record[3], number)):
                        return PRESERVED
        return 0


cdef inline bint _same(str text, str source, Py_ssize_t least) except -1:
    """Equal, and long enough to be the prose the untranslated check looks for."""
    return PyUnicode_GET_LENGTH(text) >= least and text == source
