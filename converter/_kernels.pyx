# cython: language_level=3, cdivision=True
"""Compiled kernels of the pair checks' hot paths.

Each gives exactly what the Python code it stands in for gives (its twin, named in its
docstring; tests/test_kernels.py runs both on the same inputs: real records, generated texts,
whole runs): the aligner and its pieces (:class:`Aligner`, :class:`Scorer`,
:class:`TrailingMedian`) for ``converter.alignment``; the anchors (:func:`anchor_parts`,
:func:`numbers`, :func:`holds_number`) for ``converter.anchors``; :class:`GroupScreen` for
``converter.screening``; :func:`quick_script`, :class:`LengthRatios`, :func:`duplicate_key`
(:func:`key_text`, :func:`xxh64_key`) and :func:`misalignment_findings` for the built-in
checks; :func:`bloom_add` for ``converter.seen``. ``converter.kernels`` picks this module when
it was built (``hatch_build.py``), else the Python code runs.
"""

from collections import deque
from itertools import chain, islice

from libc.math cimport INFINITY, fabs, floor, log
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memset, strcspn

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index)
    bint PyUnicode_IS_ASCII(object)
    bint PyUnicode_CheckExact(object)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch) nogil
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch) nogil
    Py_ssize_t PyUnicode_Find(object text, object sub, Py_ssize_t start, Py_ssize_t end,
                              int direction) except -2
    Py_ssize_t PyUnicode_Count(object text, object sub, Py_ssize_t start,
                               Py_ssize_t end) except -1

#: Must equal converter.alignment's (tests/test_kernels.py checks); constants to C.
cpdef enum:
    RATIO_GROUPS = 64
    REFRESH = 16

cdef frozenset _NO_STRINGS = frozenset()


# --- Record fields read at their slots -------------------------------------------------------

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

cdef enum Field:
    LANG, INDEX, INSTRUCTION, INPUT, OUTPUT, FEATURES, KERNEL_CACHE
cdef tuple _FIELD_NAMES = (
    "lang", "index", "instruction", "input", "output", "features", "kernel_cache"
)
cdef object _RECORD = None  # the record type whose slots are read directly
cdef Py_ssize_t _OFFSETS[7]


def bind_record(type record_type):
    """Read the fields of ``record_type`` (converter.model.Record, a dataclass with slots) from
    their slots, as its member descriptors do, instead of through attribute lookup."""
    global _RECORD
    cdef Py_ssize_t i
    for i, name in enumerate(_FIELD_NAMES):
        descriptor = record_type.__dict__[name]
        if type(descriptor).__name__ != "member_descriptor":
            raise TypeError(f"{record_type.__name__}.{name} is not a slot")
        _OFFSETS[i] = (<PyMemberDescrObject *><PyObject *>descriptor).d_member.offset
    _RECORD = record_type


cdef inline PyObject *_slot(object record, Field which) noexcept:
    """The field's value read from its slot (borrowed), or NULL when ``record`` is not the bound
    record type or the slot is empty."""
    if type(record) is _RECORD:
        return (<PyObject **>((<char *><PyObject *>record) + _OFFSETS[<int>which]))[0]
    return NULL


cdef inline str _text(object record, Field which):
    """A text field of ``record``: TypeError unless it is a str (the raw string reads below
    must never see anything else)."""
    cdef PyObject *value = _slot(record, which)
    if value != NULL and PyUnicode_CheckExact(<object>value):  # the common case
        return <str>value
    return _checked_text(record, which)


cdef str _checked_text(object record, Field which):
    value = _field(record, which)
    if type(value) is not str:
        raise TypeError(f"{_FIELD_NAMES[<int>which]} is {type(value).__name__}, not str")
    return value


cdef inline object _field(object record, Field which):
    """``getattr(record, name)``, read from its slot when it is the bound record type."""
    cdef PyObject *value = _slot(record, which)
    if value != NULL:
        return <object>value
    return getattr(record, _FIELD_NAMES[<int>which])


cdef inline int _set_cache(object record, object value) except -1:
    """``record.kernel_cache = value``, written to its slot when it is the bound record type."""
    cdef PyObject **slot
    if type(record) is not _RECORD:
        record.kernel_cache = value
        return 0
    slot = <PyObject **>((<char *><PyObject *>record) + _OFFSETS[<int>KERNEL_CACHE])
    cdef PyObject *old = slot[0]
    Py_INCREF(value)
    slot[0] = <PyObject *>value
    Py_XDECREF(old)  # last: whatever its release runs finds the slot already set
    return 0


cdef inline long _floordiv(long a, long b) noexcept nogil:
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
    cdef long block, last
    cdef Py_ssize_t head, count, capacity
    cdef long *indexes
    cdef double *values
    cdef double *scratch

    def __cinit__(self, Py_ssize_t warmup=16, double default=0.0):
        self.warmup, self.default, self.value, self.block = warmup, default, default, -1
        self.last = -1  # the index of the last group learned
        self.head = self.count = 0
        self.capacity = 128  # a power of two (doubled when full): ring positions are masked
        while self.capacity < 2 * RATIO_GROUPS:
            self.capacity *= 2
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
        cdef double *scratch = <double *>malloc(n * sizeof(double))
        if not (indexes and values and scratch):  # the old arrays stay as they were
            free(indexes)
            free(values)
            free(scratch)
            raise MemoryError()
        for i in range(self.count):
            indexes[i] = self.indexes[(self.head + i) & (self.capacity - 1)]
            values[i] = self.values[(self.head + i) & (self.capacity - 1)]
        free(self.indexes)
        free(self.values)
        free(self.scratch)
        self.indexes, self.values, self.scratch = indexes, values, scratch
        self.head, self.capacity = 0, n

    def add(self, long index, object value):
        """Learn ``value`` (None: the group has none) at group ``index``; True when the typical
        value was recomputed."""
        return self._add(index, 0.0 if value is None else <double>value, value is not None)

    cpdef double value_at(self, long index) except? -1.0:
        """The typical value for group ``index``: first learned up to ``index - 1`` as groups
        without a value when the last learned is further back (as alignment's twin)."""
        if self.last < index - 1:
            self._add(index - 1, 0.0, False)
        return self.value

    cdef bint _add(self, long index, double value, bint known) except -1:
        """:meth:`add` from C: ``value`` counts only when ``known``."""
        cdef Py_ssize_t i, n
        self.last = index
        if known:
            if self.count == self.capacity:
                self._grow()
            i = (self.head + self.count) & (self.capacity - 1)
            self.indexes[i] = index
            self.values[i] = value
            self.count += 1
        cdef long oldest = index - RATIO_GROUPS
        while self.count and self.indexes[self.head] <= oldest:
            self.head = (self.head + 1) & (self.capacity - 1)
            self.count -= 1
        cdef long block = _floordiv(index, REFRESH)
        if block == self.block and self.count >= self.warmup:
            return False
        self.block = block
        n = self.count
        if n == 0:
            self.value = self.default
            return True
        for i in range(n):
            self.scratch[i] = self.values[(self.head + i) & (self.capacity - 1)]
        self.value = _select_near(self.scratch, n, n // 2, self.value)  # sorted(values)[n // 2]
        return True


cdef enum:
    NEAR_STEPS = 6  # distinct values _select_near walks from its guess before it selects


cdef double _select_near(double *values, Py_ssize_t n, Py_ssize_t k, double guess) noexcept nogil:
    """The ``k``-th smallest of ``values`` found by walking from ``guess`` (the median before,
    which a window moved by REFRESH values seldom takes far): count the values below and equal
    to it, then step from distinct value to distinct value towards rank ``k``, each step two
    passes without a data-dependent branch; after NEAR_STEPS steps, :func:`_select`."""
    cdef Py_ssize_t i, step, below = 0, equal = 0, edge
    cdef double value, nearest
    for i in range(n):
        below += values[i] < guess
        equal += values[i] == guess
    if below <= k < below + equal:
        return guess
    edge = below + equal if k >= below else below  # where the values past guess start
    for step in range(NEAR_STEPS):
        equal = 0
        if k >= edge:  # the smallest value above guess, its rank from edge
            nearest = INFINITY
            for i in range(n):
                value = values[i]
                nearest = value if (value > guess) & (value < nearest) else nearest
            for i in range(n):
                equal += values[i] == nearest
            if k < edge + equal:
                return nearest
            edge += equal
        else:  # the largest value below guess, its ranks up to edge
            nearest = -INFINITY
            for i in range(n):
                value = values[i]
                nearest = value if (value < guess) & (value > nearest) else nearest
            for i in range(n):
                equal += values[i] == nearest
            if k >= edge - equal:
                return nearest
            edge -= equal
        guess = nearest
    return _select(values, n, k)


cdef double _select(double *values, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """The ``k``-th smallest of ``values`` (reordering them): quickselect whose partitions have
    no data-dependent branch (each value swapped forward, the boundary moved by the compare),
    as branches on random values mispredict half the time. A second pass gathers the values
    equal to the pivot, so a window of equal values takes one round, not n/2."""
    cdef Py_ssize_t low = 0, high = n - 1, i, less, equal, middle
    cdef double pivot, value
    while low < high:
        middle = (low + high) >> 1
        pivot = values[middle]
        values[middle] = values[high]
        values[high] = pivot
        less = low
        for i in range(low, high):  # values[low:less] < pivot
            value = values[i]
            values[i] = values[less]
            values[less] = value
            less += value < pivot
        if k < less:
            high = less - 1
            continue
        equal = less
        for i in range(less, high + 1):  # values[less:equal] == pivot (the pivot among them)
            value = values[i]
            values[i] = values[equal]
            values[equal] = value
            equal += value == pivot
        if k < equal:
            return pivot
        low = equal
    return values[k]


cdef inline bint _blank(str text) noexcept:
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
    return _find(a, needle, 0) >= 0 or _find(b, needle, 0) >= 0 or _find(c, needle, 0) >= 0


cdef class Scorer:
    """converter.alignment's pair scores: ``score`` is ``similarity``, ``learn`` feeds a
    pair's log length ratios to the learned medians."""

    cdef object record_type
    cdef double lines_agree

    def __init__(self, record_type, double lines_agree):
        self.record_type = record_type
        self.lines_agree = lines_agree  # converter.alignment.LINES_AGREE

    cpdef double score(self, source, target, double centre_instruction,
                       double centre_output) except? -1000.0:
        """How well ``target`` fits as the translation of ``source``."""
        if type(source) is not self.record_type or type(target) is not self.record_type:
            return 0.0
        cdef str si = _text(source, INSTRUCTION), so = _text(source, OUTPUT)
        cdef str ti = _text(target, INSTRUCTION), tin = _text(target, INPUT)
        cdef str to = _text(target, OUTPUT)
        cdef double score = 1.0 if _blank(_text(source, INPUT)) == _blank(tin) else -1.0
        cdef Py_ssize_t lsi = len(si), lso = len(so), lti = len(ti), lto = len(to)
        cdef double r0 = log(<double>(lti + 5) / <double>(lsi + 5))
        cdef double r1 = log(<double>(lto + 5) / <double>(lso + 5))
        if lsi and lti:
            score -= min(fabs(r0 - centre_instruction), 2.0)
        if lso and lto:
            score -= min(fabs(r1 - centre_output), 2.0)
        cdef Py_ssize_t breaks_s = so.count("\n"), breaks_t = to.count("\n")
        if breaks_s != breaks_t:  # converter.alignment.line_agreement
            score -= self.lines_agree * min(abs(breaks_s - breaks_t), 2)
        elif breaks_s:
            score += self.lines_agree
        cdef bytes numbers = None
        cdef object urls = None
        cdef tuple anchors = _anchors_of(source)
        if anchors is not None:
            numbers, urls = anchors[0], anchors[1]
        cdef Py_ssize_t kept, total = 0
        cdef str item
        cdef tuple theirs  # (many anchors: compared with the target's own as sets)
        if numbers:
            if _many(numbers, 0):
                theirs = _anchors_of(target)
                total = numbers.count(b" ") - 1
                kept = len(_number_set(numbers) & _number_set(theirs[0] if theirs else b""))
            else:
                kept = _numbers_held(_runs_of(target), numbers, False, &total)
            score += 2.0 * kept / total - 0.5
        if urls:
            if len(urls) > _MAX_SEARCHED:
                theirs = _anchors_of(target)
                return score + (1.0 if urls <= (theirs[1] if theirs else _NO_STRINGS) else -1.0)
            for item in urls:
                if not _contains_any(item, ti, tin, to):
                    return score - 1.0
            return score + 1.0
        if _holds_url(target):
            score -= 1.0
        return score

    cpdef bint learn(self, source, target, TrailingMedian instruction,
                     TrailingMedian output) except -1:
        """Feed the pair's log length ratios at ``source.index`` (none when ``target`` is no
        record); True when either median was recomputed."""
        cdef long index = _field(source, INDEX)
        cdef bint learned
        if type(target) is not self.record_type:
            learned = instruction._add(index, 0.0, False)
            return output._add(index, 0.0, False) or learned
        cdef Py_ssize_t lsi = len(_text(source, INSTRUCTION)), lso = len(_text(source, OUTPUT))
        cdef Py_ssize_t lti = len(_text(target, INSTRUCTION)), lto = len(_text(target, OUTPUT))
        learned = instruction._add(index, log(<double>(lti + 5) / <double>(lsi + 5)), True)
        return output._add(index, log(<double>(lto + 5) / <double>(lso + 5)), True) or learned


ctypedef unsigned char UCS1
ctypedef unsigned short UCS2
ctypedef unsigned int UCS4
ctypedef fused chars:  # the three widths of a str's characters: one loop compiled for each
    UCS1
    UCS2
    UCS4


cdef inline bint _is_digit(Py_UCS4 c) noexcept nogil:
    return 0x30 <= c <= 0x39


#: Characters a block-wise skip looks at together.
cdef enum:
    BLOCK = 16

# Whether any of BLOCK two- or four-byte characters may be a digit, start a digit run (or
# "://"), start a trigger, or is the character ``wanted``: the block's characters tested
# together with the compiler's vector extensions (GCC, Clang), with no branch per character
# (four-byte characters that are all ASCII as bytes, in one vector). Each ``cv_any_*`` reads
# 16 characters.
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    typedef uint16_t cv_u16 __attribute__((vector_size(16)));
    typedef uint32_t cv_u32 __attribute__((vector_size(16)));
    #define CV_RUN(v) (((v) - 0x2C <= 0x3A - 0x2C) | ((v) - 0xFF0C <= 0xFF19 - 0xFF0C))
    #define CV_ANY(name, T, V, TEST) \
        static inline int name(const T *p, T wanted) { \
            (void)wanted; \
            V v, hits; \
            memcpy(&v, p, 16); \
            hits = (V)(TEST(v)); \
            for (int k = 16; k < 16 * (int)sizeof(T); k += 16) { \
                memcpy(&v, (const char *)p + k, 16); \
                hits |= (V)(TEST(v)); \
            } \
            uint64_t lanes[2]; \
            memcpy(lanes, &hits, 16); \
            return (lanes[0] | lanes[1]) != 0; \
        }
    /* 16 four-byte characters as bytes when all of them are ASCII (x86-64: SSE2), so that
       a test reads them in one vector, not four */
    typedef uint8_t cv_u8 __attribute__((vector_size(16)));
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline int cv_ascii_bytes(const uint32_t *p, cv_u8 *out) {
        __m128i a = _mm_loadu_si128((const __m128i *)p);
        __m128i b = _mm_loadu_si128((const __m128i *)(p + 4));
        __m128i c = _mm_loadu_si128((const __m128i *)(p + 8));
        __m128i d = _mm_loadu_si128((const __m128i *)(p + 12));
        __m128i high = _mm_and_si128(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)),
                                     _mm_set1_epi32(~0x7F));
        if (_mm_movemask_epi8(_mm_cmpeq_epi32(high, _mm_setzero_si128())) != 0xFFFF)
            return 0;
        __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
        memcpy(out, &bytes, 16);
        return 1;
    }
    #else
    static inline int cv_ascii_bytes(const uint32_t *p, cv_u8 *out) {
        (void)p; (void)out;
        return 0;
    }
    #endif
    #define CV_ANY_OF_4(name, WIDE, ASCII_TEST) \
        static inline int name(const uint32_t *p, uint32_t wanted) { \
            cv_u8 bytes, hits; \
            uint64_t lanes[2]; \
            if (!cv_ascii_bytes(p, &bytes)) \
                return WIDE(p, wanted); \
            hits = (cv_u8)(ASCII_TEST(bytes)); \
            memcpy(lanes, &hits, 16); \
            return (lanes[0] | lanes[1]) != 0; \
        }
    CV_ANY(cv_any_run_2, uint16_t, cv_u16, CV_RUN)
    CV_ANY(cv_wide_run_4, uint32_t, cv_u32, CV_RUN)
    #define CV_RUN_ASCII(v) ((cv_u8)((v) - 0x2C) <= 0x3A - 0x2C)
    CV_ANY_OF_4(cv_any_run_4, cv_wide_run_4, CV_RUN_ASCII)
    /* a digit or a character that _may_trigger, in few steps: "0" to ":" as one range,
       "[" "{" and "`" "@" by their case bit (an "@" is a false alarm: the characters are
       then looked at one by one) */
    #define CV_SCAN(v) (((v) - 0x30 <= 0x0A) | (((v) | 0x20) == 0x7B) | (((v) | 0x20) == 0x60) \
                        | ((v) == 0x25) | ((v) - 0xFF10 <= 9))
    #define CV_SCAN_ASCII(v) (((cv_u8)((v) - 0x30) <= 0x0A) | (((v) | 0x20) == 0x7B) \
                              | (((v) | 0x20) == 0x60) | ((v) == 0x25))
    CV_ANY(cv_any_scan_2, uint16_t, cv_u16, CV_SCAN)
    CV_ANY(cv_wide_scan_4, uint32_t, cv_u32, CV_SCAN)
    CV_ANY_OF_4(cv_any_scan_4, cv_wide_scan_4, CV_SCAN_ASCII)
    #define CV_WANTED(v) ((v) == wanted)
    CV_ANY(cv_any_wanted_2, uint16_t, cv_u16, CV_WANTED)
    CV_ANY(cv_any_wanted_4, uint32_t, cv_u32, CV_WANTED)
    """
    bint cv_any_run_2(const unsigned short *p, unsigned short unused) nogil
    bint cv_any_run_4(const unsigned int *p, unsigned int unused) nogil
    bint cv_any_scan_2(const unsigned short *p, unsigned short unused) nogil
    bint cv_any_scan_4(const unsigned int *p, unsigned int unused) nogil
    bint cv_any_wanted_2(const unsigned short *p, unsigned short wanted) nogil
    bint cv_any_wanted_4(const unsigned int *p, unsigned int wanted) nogil


cdef enum BlockTest:
    RUN_IN, SCAN_IN  # a character that _may_run; a digit or one that _may_trigger


cdef inline bint _block_any(const chars *block, BlockTest test) noexcept nogil:
    """Whether one of the BLOCK characters from ``block`` passes ``test`` (a constant where
    it is called: the compiler keeps one test)."""
    cdef const unsigned short *two
    cdef const unsigned int *four
    cdef Py_ssize_t j
    if chars is UCS2:
        two = <const unsigned short *>block
        return cv_any_run_2(two, 0) if test == RUN_IN else cv_any_scan_2(two, 0)
    elif chars is UCS4:
        four = <const unsigned int *>block
        return cv_any_run_4(four, 0) if test == RUN_IN else cv_any_scan_4(four, 0)
    else:
        for j in range(BLOCK):
            if (_may_run(block[j]) if test == RUN_IN
                    else _is_digit(block[j]) or _may_trigger(block[j])):
                return True
        return False


def numbers(str text not None):
    """converter.anchors' numbers of ``text``: the runs matching ``[0-9][0-9.,]*[0-9]``,
    commas removed."""
    return _number_set(_numbers(text, None, None))


cdef frozenset _number_set(bytes numbers):
    """The numbers of a numbers text as a set of str."""
    return frozenset(numbers.decode("ascii").split())


cdef enum:
    FEW_NUMBERS = 16  # up to this many, numbers are told apart by a search, not by a set
    STACK_NUMBERS = 1024  # bytes of a numbers text written on the stack


cdef inline Py_ssize_t _token_end(const char *numbers, Py_ssize_t at) noexcept nogil:
    """Where the number at ``at`` of a numbers text ends: the space after it."""
    while numbers[at] != 0x20:
        at += 1
    return at


cdef bint _has_token(const char *numbers, Py_ssize_t size, const char *token,
                     Py_ssize_t width) noexcept nogil:
    """Whether the numbers text of ``size`` bytes holds ``token``: its numbers compared one by
    one (a few short ones: quicker than a search)."""
    cdef Py_ssize_t at = 1, end
    while at < size:
        end = _token_end(numbers, at)
        if end - at == width and memcmp(numbers + at, token, width) == 0:
            return True
        at = end + 1
    return False


cdef bytes _numbers(str a, str b, str c):
    """The numbers of ``a`` (then ``b`` and ``c`` when given), each once in the order first
    seen, as a numbers text: ASCII, each number between spaces (b" 12 3.5 "); b"" for none."""
    cdef int triggers[3]
    return _scan_texts(a, b, c, triggers)


cdef bytes _scan_texts(str a, str b, str c, int *triggers):
    """:func:`_numbers` of ``a`` (``b`` and ``c``), read in one pass with their Trigger bits
    (``triggers[0..2]``, one a text)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(a), k = 1, count = 0
    triggers[0] = triggers[1] = triggers[2] = 0
    if b is not None:
        n += PyUnicode_GET_LENGTH(b) + PyUnicode_GET_LENGTH(c)
    cdef char stack[STACK_NUMBERS]
    cdef char *out = stack  # room for 3n / 2 + 1: a number has two characters at least
    if 2 * n + 2 > STACK_NUMBERS:
        out = <char *>malloc(2 * n + 2)
        if not out:
            raise MemoryError()
    try:
        out[0] = 0x20
        k = _scan(a, out, k, &count, triggers)
        if b is not None:
            k = _scan(c, out, _scan(b, out, k, &count, triggers + 1), &count, triggers + 2)
        if count == 0:
            return b""
        if count <= FEW_NUMBERS:  # each once already
            return out[:k]
        return b" " + b" ".join(dict.fromkeys(out[1:k - 1].split(b" "))) + b" "
    finally:
        if out != stack:
            free(out)


cdef bytes _without(bytes numbers, bytes drop):
    """The numbers text ``numbers`` without those in the numbers text ``drop`` (as sets: in
    time linear in both, however many there are)."""
    cdef set gone = set(drop.split())
    cdef list kept = [number for number in numbers.split() if number not in gone]
    return b" " + b" ".join(kept) + b" " if kept else b""


cdef extern from "string.h":
    void *memmem(const void *haystack, size_t size, const void *needle, size_t width) nogil


cdef Py_ssize_t _find_in(const chars *data, Py_ssize_t n, const UCS1 *needle, Py_ssize_t m,
                         Py_ssize_t start) noexcept nogil:
    """The first index from ``start`` where the ASCII ``needle`` occurs in ``data``, or -1.
    One-byte text is searched by the C library; wider text a block at a time for the needle's
    first character (a test on each of the block's characters, no branch between them)."""
    cdef const UCS1 *at
    if chars is UCS1:
        if n - m < start:
            return -1
        at = <const UCS1 *>memmem(data + start, n - start, needle, m)
        return -1 if at == NULL else at - data
    else:
        return _find_wide(data, n, needle, m, start)


cdef Py_ssize_t _find_wide(const chars *data, Py_ssize_t n, const UCS1 *needle, Py_ssize_t m,
                           Py_ssize_t start) noexcept nogil:
    """:func:`_find_in` for two- and four-byte text."""
    cdef Py_ssize_t i = start, j, stop, end = n - m + 1  # a match starts before end
    cdef unsigned int first = needle[0]
    cdef bint seen
    while i < end:
        stop = end
        if i + BLOCK <= end:
            if chars is UCS2:
                seen = cv_any_wanted_2(<const unsigned short *>(data + i), <unsigned short>first)
            elif chars is UCS4:
                seen = cv_any_wanted_4(<const unsigned int *>(data + i), first)
            else:
                seen = memchr(data + i, first, BLOCK) != NULL
            if not seen:
                i += BLOCK
                continue
            stop = i + BLOCK
        while i < stop:
            if data[i] == first:
                j = 1
                while j < m and data[i + j] == needle[j]:
                    j += 1
                if j == m:
                    return i
            i += 1
    return -1


cdef Py_ssize_t _find(str text, str needle, Py_ssize_t start) except -2:
    """``text.find(needle, start)`` (an ASCII needle searched in place, whatever the text's
    width: CPython would widen a copy of it first)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), m = PyUnicode_GET_LENGTH(needle)
    if m == 0 or not PyUnicode_IS_ASCII(needle):
        return PyUnicode_Find(text, needle, start, n, 1)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef const UCS1 *chars_ = <const UCS1 *>PyUnicode_DATA(needle)
    if kind == 1:
        return _find_in(<UCS1 *>data, n, chars_, m, start)
    if kind == 2:
        return _find_in(<UCS2 *>data, n, chars_, m, start)
    return _find_in(<UCS4 *>data, n, chars_, m, start)


def newlines(bytes data not None, Py_ssize_t end, Py_ssize_t begin=0):
    """``(data.count(b"\\n", begin, end), spaced)`` for converter.scale.plan, by the C
    library's memchr (bytes.count goes a byte at a time); ``spaced``: whether a newline in
    ``data[begin:end]`` is followed there by ASCII whitespace (where a blank line may start)."""
    cdef const char *start = data
    cdef const char *at = start + max(0, min(begin, len(data)))
    cdef const char *stop = start + max(0, min(end, len(data)))
    cdef Py_ssize_t found = 0
    cdef bint spaced = False
    while at < stop:
        at = <const char *>memchr(at, 0x0A, stop - at)
        if at == NULL:
            break
        found += 1
        at += 1
        if at < stop and (at[0] == 0x20 or 0x09 <= at[0] <= 0x0D):  # \t \n \v \f \r or space
            spaced = True
    return found, spaced


cdef class ArrayScan:
    """converter.scale.plan.ArrayScan: a JSON array's values counted and marked block by
    block, a memchr a string (to its next quote) instead of a Python call."""

    cdef readonly long long every, first, index, depth, cut
    cdef readonly bint string, escaped, expect, comma, scalar, closed, full
    cdef readonly list marks
    cdef readonly object problem, stop
    cdef long long _stop

    def __init__(self, long long every, long long first, stop=None):
        if every < 1:
            raise ValueError(f"marks every {every} values: at least 1 is needed")
        self.every, self.first, self.index = every, first, first
        self.stop = stop
        self._stop = -1 if stop is None else stop
        self.full = False
        self.depth = self.cut = 0
        self.string = self.escaped = self.expect = self.comma = self.scalar = False
        self.closed = False
        self.marks = []
        self.problem = None

    def feed(self, bytes data not None, long long offset):
        """Take the next block: the bytes from ``offset`` on."""
        cdef const unsigned char *p = <const unsigned char *>(<char *>data)
        cdef Py_ssize_t at = 0, size = len(data)
        cdef unsigned char c
        while at < size and self.problem is None and not self.full:
            if self.string:
                at = self._string_end(p, at, size)
                continue
            c = p[at]
            if c == 0x20 or (0x09 <= c <= 0x0D and c != 0x0C):  # the reader's: \t \n \v \r, space
                self.scalar = False
                at += 1
                continue
            self._token(c, offset + at)
            at += 1

    cdef Py_ssize_t _string_end(self, const unsigned char *p, Py_ssize_t at, Py_ssize_t size):
        cdef const unsigned char *quote
        if self.escaped:
            self.escaped = False
            at += 1
        while at < size:
            quote = <const unsigned char *>memchr(p + at, 0x22, size - at)
            if quote == NULL:
                break
            if _backslashes(p, at, quote - p) % 2 == 0:
                self.string = False
                return quote - p + 1
            at = quote - p + 1
        if at < size:
            self.escaped = _backslashes(p, at, size) % 2 == 1
        return size

    cdef int _token(self, unsigned char c, long long where) except -1:
        if self.closed:
            self.problem = f"byte {where}: more after the array's end"
        elif c == 0x22:
            self._value(where)
            self.string = True
        elif c == 0x5B or c == 0x7B:
            if self.depth == 0 and c == 0x5B:
                self.expect = True
            elif self.depth == 0:
                self.problem = f"byte {where}: not an array"
            else:
                self._value(where)
            self.depth += 1
        elif c == 0x5D or c == 0x7D:
            if self.depth == 1:
                if c == 0x7D:
                    self.problem = f"byte {where}: '}}' ends the array"
                elif self.comma:
                    self.problem = f"byte {self.cut}: a comma before the array's end"
                self.closed = True
            self.depth -= 1
        elif c == 0x2C:
            if self.depth == 1:
                if self.expect:
                    self.problem = f"byte {where}: a comma where a value should be"
                self.expect = self.comma = True
                self.cut = where
        elif c != 0x3A and self.depth == 1 and not self.scalar:
            self._value(where)
            self.scalar = True
            return 0
        else:
            return 0
        self.scalar = False
        return 0

    cdef int _value(self, long long where) except -1:
        if self.depth != 1:
            return 0
        if self.index == self._stop:
            self.full = True
            return 0
        if not self.expect:
            self.problem = f"byte {where}: a value follows another without a comma"
            return 0
        if self.index % self.every == 0 and self.index != self.first:
            self.marks.append((self.index, where, self.cut))
        self.index += 1
        self.expect = self.comma = False
        return 0

    def unfinished(self):
        """What is missing at the end of the file, if anything."""
        if self.full:
            return None
        if self.string:
            return "a string runs to the end of the file"
        return None if self.closed else "the array is not closed"


cdef inline Py_ssize_t _backslashes(
    const unsigned char *p, Py_ssize_t start, Py_ssize_t end
) noexcept nogil:
    cdef Py_ssize_t at = end
    while at > start and p[at - 1] == 0x5C:
        at -= 1
    return end - at


def line_starts(bytes data not None, Py_ssize_t first, Py_ssize_t every, Py_ssize_t lines):
    """converter.scale.plan._line_starts: where lines ``first``, ``first + every``, ...
    (before line ``lines``) of ``data`` start, a memchr a line."""
    if every < 1 or first < 0:
        raise ValueError("lines are counted from 0, every one at least")
    cdef const char *start = data
    cdef const char *at = start
    cdef const char *stop = start + len(data)
    cdef Py_ssize_t line, done = 0
    cdef list starts = []
    for line in range(first, lines, every):
        while done < line:
            at = <const char *>memchr(at, 0x0A, stop - at)
            if at == NULL:  # fewer lines than asked for: bytes.find gives -1, + 1
                at = start
            else:
                at += 1
            done += 1
        starts.append(at - start)
    return starts


def find(str text not None, str needle not None):
    """``text.find(needle)``, searched in place for an ASCII needle."""
    return _find(text, needle, 0)


def holds_number(str text not None, str number not None):
    """converter.anchors.holds_number: ``text`` holds ``number`` (digits and separators, as
    its anchors are) as a whole number."""
    if not number or number.strip("0123456789.,"):
        raise ValueError(f"not a number of digits and separators: {number!r}")
    cdef bytes runs = _digit_runs(text)
    return _held_in(runs, len(runs), <const char *>PyUnicode_DATA(number),
                    PyUnicode_GET_LENGTH(number), True)


cdef extern from *:
    void __builtin_prefetch(const void *address) nogil


cdef inline char _run_char(Py_UCS4 c) noexcept nogil:
    """How a character stands in a digit-runs text: itself for 0-9 . ,, D for a full-width
    digit, S for a full-width separator, 0 for any other (which ends a run)."""
    if _is_digit(c) or c == 0x2E or c == 0x2C:
        return <char>c
    if 0xFF10 <= c <= 0xFF19:
        return 0x44
    if c == 0xFF0E or c == 0xFF0C:
        return 0x53
    return 0


cdef inline bint _may_run(Py_UCS4 c) noexcept nogil:
    """Whether ``c`` may stand for itself in the runs or start "://": "," to ":" and the
    full-width separators and digits (U+FF0C to U+FF19)."""
    return (<unsigned int>c - 0x2C <= 0x3A - 0x2C) | (<unsigned int>c - 0xFF0C <= 0xFF19 - 0xFF0C)


cdef Py_ssize_t _runs_in(const chars *data, Py_ssize_t n, char *out, Py_ssize_t k,
                         bint *url) noexcept nogil:
    """Append the digit runs of ``data`` to ``out`` (after ``k`` characters, the last a space;
    room for 2n + 1 more); the new length. Sets ``url`` when ``data`` holds "://". Text
    between runs is skipped in a tight loop (the C library's for one-byte text)."""
    cdef Py_ssize_t i = 0, start
    cdef Py_UCS4 c
    cdef char r
    while True:
        start = i
        if chars is UCS1:
            i += strcspn(<const char *>data + i, ",.0123456789:")  # stops at a NUL too
        else:
            while i + BLOCK <= n and not _block_any(data + i, RUN_IN):
                i += BLOCK
            while i < n and not _may_run(data[i]):
                i += 1
        if i > start and out[k - 1] != 0x20:
            out[k] = 0x20
            k += 1
        if i >= n:
            return k
        c = data[i]
        r = _run_char(c)
        if r:
            out[k] = r
            k += 1
        else:
            if c == 0x3A and i + 2 < n and data[i + 1] == 0x2F and data[i + 2] == 0x2F:
                url[0] = True
            if out[k - 1] != 0x20:
                out[k] = 0x20
                k += 1
        i += 1


cdef Py_ssize_t _text_runs(str text, char *out, Py_ssize_t k, bint *url) noexcept:
    """:func:`_runs_in` of ``text``, whatever its width."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _runs_in(<UCS1 *>data, n, out, k, url)
    if kind == 2:
        return _runs_in(<UCS2 *>data, n, out, k, url)
    return _runs_in(<UCS4 *>data, n, out, k, url)


cdef bytes _digit_runs(str text, str second=None, str third=None):
    """The runs of digits and separators of ``text`` (full-width ones as D and S), each between
    spaces, then a U when ``text`` holds "://": an ASCII number occurs in ``text`` exactly where
    it occurs in these runs, with the same neighbours as far as holds_number looks. With
    ``second`` and ``third``: the runs of the three texts joined by newlines (none copied)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), k = 1
    cdef bint url = False
    if second is not None:
        n += PyUnicode_GET_LENGTH(second) + PyUnicode_GET_LENGTH(third) + 2
    cdef char *out = <char *>malloc(2 * n + 3)
    if not out:
        raise MemoryError()
    try:
        out[0] = 0x20
        k = _text_runs(text, out, k, &url)
        if second is not None:  # a newline between the texts ends a run, as any space does
            if out[k - 1] != 0x20:
                out[k] = 0x20
                k += 1
            k = _text_runs(second, out, k, &url)
            if out[k - 1] != 0x20:
                out[k] = 0x20
                k += 1
            k = _text_runs(third, out, k, &url)
        if out[k - 1] != 0x20:
            out[k] = 0x20
            k += 1
        if url:
            out[k] = 0x55
            k += 1
        return out[:k]
    finally:
        free(out)


cdef inline bint _has_url(bytes runs) noexcept:
    """Whether the text of these digit runs holds "://"."""
    return (<const char *>runs)[len(runs) - 1] == 0x55


cdef str _SCHEME_END = "://"


cdef bint _holds_url(record) except -1:
    """Whether a text of ``record`` holds "://": read from its digit runs when they were
    made, else searched for (a record whose runs nothing else needs)."""
    cache = _field(record, KERNEL_CACHE)
    cdef Cached held = _cached(cache)
    if held == RUNS:
        return _has_url(<bytes>cache)
    if held == BOTH:
        return _has_url(<bytes>(<list>cache)[1])
    return _contains_any(_SCHEME_END, _text(record, INSTRUCTION), _text(record, INPUT),
                         _text(record, OUTPUT))


cdef inline bint _run_digit(char c) noexcept nogil:
    return 0x30 <= c <= 0x39 or c == 0x44


cdef inline bint _run_joins(const char *runs, Py_ssize_t at, Py_ssize_t step) noexcept nogil:
    """Whether the character at ``at`` continues a number (converter.anchors._joins), on a
    digit-runs text (its spaces never do; one stands before and after each run)."""
    cdef char c = runs[at]
    if _run_digit(c):
        return True
    return (c == 0x2E or c == 0x2C or c == 0x53) and _run_digit(runs[at + step])


cdef bint _held_in(const char *base, Py_ssize_t size, const char *number, Py_ssize_t width,
                   bint whole) noexcept nogil:
    """Whether the ASCII ``number`` occurs in the digit-runs text ``base`` (``whole``: as a
    whole number, see converter.anchors.holds_number)."""
    cdef Py_ssize_t at
    cdef const char *found = <const char *>memmem(base, size, number, width)
    while found != NULL:
        if not whole:
            return True
        at = found - base
        if not (_run_joins(base, at - 1, -1) or _run_joins(base, at + width, 1)):
            return True
        found = <const char *>memmem(found + 1, size - at - 1, number, width)
    return False


cdef Py_ssize_t _numbers_held(bytes runs, bytes numbers, bint whole,
                              Py_ssize_t *total) noexcept:
    """How many numbers of the numbers text ``numbers`` the text of ``runs`` holds (see
    _held_in); sets ``total`` to how many there are."""
    cdef const char *base = numbers
    cdef Py_ssize_t size = len(numbers), at = 1, end, held = 0
    total[0] = 0
    while at < size:
        end = _token_end(base, at)
        held += _held_in(runs, len(runs), base + at, end - at, whole)
        total[0] += 1
        at = end + 1
    return held


cdef inline bint _kana(Py_UCS4 c) noexcept nogil:
    return 0x3041 <= c <= 0x309F or 0x30A1 <= c <= 0x30FA


cdef inline bint _ascii_letter(Py_UCS4 c) noexcept nogil:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


#: What quick_script finds.
cdef enum Script:
    UNDECIDED, LATIN, JAPANESE, UNDETERMINED


cdef enum:
    COUNT_RUN = 255  # characters counted into one counter as wide as a character (or a byte)


cdef Py_ssize_t _ascii_count(const chars *data, Py_ssize_t n) noexcept nogil:
    """How many of the ``n`` characters are ASCII: a compare and an add a character, no
    branch, summed in counters as wide as the characters (a byte for one-byte text) so that the
    compiler's vectorised loop works on as many characters at once as fit."""
    cdef Py_ssize_t i = 0, j, stop, found = 0
    cdef unsigned char part1
    cdef unsigned short part2
    cdef unsigned int part4
    while i < n:
        stop = min(n, i + COUNT_RUN)
        if chars is UCS1:
            part1 = 0
            for j in range(i, stop):
                part1 += data[j] < 0x80
            found += part1
        elif chars is UCS2:
            part2 = 0
            for j in range(i, stop):
                part2 += data[j] < 0x80
            found += part2
        else:
            part4 = 0
            for j in range(i, stop):
                part4 += data[j] < 0x80
            found += part4
        i = stop
    return found


cdef bint _has_word(const chars *data, Py_ssize_t n) noexcept nogil:
    """Three ASCII letters in a row (``[A-Za-z]{3}``)."""
    cdef Py_ssize_t i, letters = 0
    for i in range(n):
        if data[i] < 0x80 and _ascii_letter(data[i]):
            letters += 1
            if letters == 3:
                return True
        else:
            letters = 0
    return False


cdef bint _has_kana(const chars *data, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if _kana(data[i]):
            return True
    return False


cdef Script _script_of(const chars *data, Py_ssize_t n, double latin_share,
                       Py_ssize_t min_letters) noexcept nogil:
    cdef Py_ssize_t i, ascii_chars = _ascii_count(data, n), maybe_letters = 0
    cdef Py_UCS4 c
    if ascii_chars >= latin_share * n:
        return LATIN if n >= min_letters and _has_word(data, n) else UNDETERMINED
    if ascii_chars < 0.7 * n and _has_kana(data, n):
        return JAPANESE
    for i in range(n):
        c = data[i]
        if _ascii_letter(c) if c < 0x80 else not _no_letter(c):
            maybe_letters += 1
    if maybe_letters < min_letters // 3:  # too few letters for the classifier to judge
        return UNDETERMINED
    return UNDECIDED


cdef inline bint _no_letter(Py_UCS4 c) noexcept nogil:
    """One of the non-ASCII characters quick_script knows the classifier counts as no letter:
    CJK spaces and punctuation, full-width digits."""
    return (0x3000 <= c <= 0x3002 or c == 0x300C or c == 0x300D or c == 0x30FB
            or 0xFF10 <= c <= 0xFF19 or c == 0xFF01 or c == 0xFF0C or c == 0xFF0E
            or c == 0xFF1A or c == 0xFF1B or c == 0xFF1F)


cdef Script _script(str text, double latin_share, Py_ssize_t min_letters) noexcept:
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _script_of(<UCS1 *>data, n, latin_share, min_letters)
    if kind == 2:
        return _script_of(<UCS2 *>data, n, latin_share, min_letters)
    return _script_of(<UCS4 *>data, n, latin_share, min_letters)


def quick_script(str text not None, double latin_share, Py_ssize_t min_letters):
    """The cheap tests of converter.builtin.checks.field_script: "latin" or "und" for (almost)
    all-ASCII text, "ja" for mostly non-ASCII text with kana; None when the classifier must
    decide."""
    cdef Script script = _script(text, latin_share, min_letters)
    return None if script == UNDECIDED else _VERDICT_NAMES[_QUICK_VERDICT[<int>script]]


# --- Code and prose: converter.builtin.checks.looks_like_code and its prose test ----------------

cdef tuple _CODE_WORDS = ()  # set by code_rules
cdef unsigned char _CODE_SYMBOL[128]
cdef double _CODE_SHARE = 0.0


def code_rules(tuple words not None, str symbols not None, double share):
    """Take converter.builtin.checks' rules for code: the ASCII ``words`` a code line starts
    with, the code ``symbols`` and the share of them that makes a text code."""
    global _CODE_WORDS, _CODE_SHARE
    cdef str word
    for word in words:
        if not (word and PyUnicode_IS_ASCII(word)):
            raise ValueError(f"not an ASCII word: {word!r}")
    _CODE_WORDS, _CODE_SHARE = words, share
    memset(_CODE_SYMBOL, 0, 128)
    for symbol in symbols:
        if ord(symbol) >= 128:
            raise ValueError(f"not an ASCII symbol: {symbol!r}")
        _CODE_SYMBOL[ord(symbol)] = 1


cdef Py_ssize_t _MAX_SEARCHED = 64  # set by anchor_rules


def anchor_rules(Py_ssize_t max_searched):
    """Take converter.anchors.MAX_SEARCHED: the most anchors of a source looked for one by one
    in a translation's text; more are compared with the translation's own as sets."""
    global _MAX_SEARCHED
    _MAX_SEARCHED = max_searched


cdef inline bint _many(bytes numbers, Py_ssize_t others) except -1:
    """Whether the numbers of a numbers text and ``others`` anchors are more than
    _MAX_SEARCHED (counted only when they may be: a number takes three bytes at least)."""
    cdef Py_ssize_t room = _MAX_SEARCHED - others
    if room < 0:
        return True
    if numbers is None or len(numbers) <= 3 * room + 1:
        return False
    return numbers.count(b" ") - 1 > room


cdef inline bint _word(Py_UCS4 c) noexcept nogil:
    """``\\w`` of a str pattern."""
    return c == 0x5F or Py_UNICODE_ISALNUM(c)


cdef bint _code_word_at(const chars *data, Py_ssize_t n, Py_ssize_t at) noexcept:
    """One of the code words at ``at``, then no word character (``(?:def|...)\\b``)."""
    cdef str word
    cdef const UCS1 *w
    cdef Py_ssize_t m, j
    for word in _CODE_WORDS:
        m = PyUnicode_GET_LENGTH(word)
        if at + m > n:
            continue
        w = <const UCS1 *>PyUnicode_DATA(word)
        for j in range(m):
            if data[at + j] != w[j]:
                break
        else:
            if at + m == n or not _word(data[at + m]):
                return True
    return False


cdef bint _code_of(const chars *data, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i, start = 0, end, symbols = 0
    while True:  # at a line start: a run of 2+ spaces then text, or spaces then a code word
        end = start
        while end < n and Py_UNICODE_ISSPACE(data[end]):
            end += 1
        if end == n:  # later line starts lie in this run: nothing follows them either
            break
        if end - start >= 2 or _code_word_at(data, n, end):
            return True
        while end < n and data[end] != 0x0A:
            end += 1
        if end == n:
            break
        start = end + 1
    for i in range(n):
        if data[i] < 128 and _CODE_SYMBOL[data[i]]:
            symbols += 1
    return symbols > _CODE_SHARE * n


cdef bint _looks_like_code(str text) noexcept:
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _code_of(<UCS1 *>data, n)
    if kind == 2:
        return _code_of(<UCS2 *>data, n)
    return _code_of(<UCS4 *>data, n)


def looks_like_code(str text not None):
    """converter.builtin.checks.looks_like_code (with the rules of :func:`code_rules`)."""
    return _looks_like_code(text)


cdef inline bint _unspaced(Py_UCS4 c) noexcept:
    """converter.builtin.checks._UNSPACED: kana, CJK ideographs (beyond the BMP too),
    half-width katakana."""
    return (
        0x3041 <= c <= 0x30FF or 0x3400 <= c <= 0x4DBF or 0x4E00 <= c <= 0x9FFF
        or 0xF900 <= c <= 0xFAFF or 0xFF66 <= c <= 0xFF9F or 0x20000 <= c <= 0x3134F
    )


cdef inline bint _cjk_gap(Py_UCS4 c) noexcept:
    """converter.builtin.checks._CJK_GAP: CJK punctuation and full-width symbols."""
    return (
        0x3000 <= c <= 0x303F or 0xFF01 <= c <= 0xFF0F or 0xFF1A <= c <= 0xFF20
        or 0xFF3B <= c <= 0xFF40 or 0xFF5B <= c <= 0xFF65
    )


cdef bint _is_prose(str text, Py_ssize_t words) noexcept:
    """``prose_words(text) >= words and not looks_like_code(text)`` (converter.builtin.checks):
    a run between spaces is a word; a kana or CJK character ends a run, three make a word."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text), found = 0, unspaced = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef bint gap = True
    cdef Py_UCS4 c
    if words <= 0:  # any text has that many words
        return not _looks_like_code(text)
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if _unspaced(c):
            gap = True
            unspaced += 1
            if found + unspaced // 3 >= words:
                return not _looks_like_code(text)
        elif Py_UNICODE_ISSPACE(c) or _cjk_gap(c):
            gap = True
        elif gap:
            gap = False
            found += 1
            if found + unspaced // 3 >= words:
                return not _looks_like_code(text)
    return False


def is_prose(str text not None, Py_ssize_t words):
    """converter.builtin.checks' prose test: ``words`` words or more, and no code."""
    return _is_prose(text, words)


#: key_text's view of an ASCII character: lowercased, or a space for any whitespace.
cdef unsigned char _KEY_CHAR[128]
cdef unsigned char _KEY_SPACE[128]
for _c in range(128):
    _KEY_SPACE[_c] = Py_UNICODE_ISSPACE(_c)
    _KEY_CHAR[_c] = 0x20 if _KEY_SPACE[_c] else (_c + 32 if 0x41 <= _c <= 0x5A else _c)


# A block of 16 ASCII characters as key_text has them, when none of them is whitespace that
# follows whitespace (the character before the block counts): then each becomes one character,
# lowercased or a space, all 16 at once with the compiler's vector extensions.
cdef extern from *:
    """
    /* Py_UNICODE_ISSPACE of an ASCII character: \t \n \v \f \r, U+001C-U+001F, space */
    #define CV_KEY_SPACE(v) (((v) == 0x20) | ((cv_u8)((v) - 0x09) <= 4) \
                             | ((cv_u8)((v) - 0x1C) <= 3))
    static inline int cv_key_block(const unsigned char *p, unsigned char *out, int *last) {
        cv_u8 v, before, space, twice, upper, mapped;
        uint64_t lanes[2];
        memcpy(&v, p, 16);
        memcpy(&before, p - 1, 16);
        space = (cv_u8)CV_KEY_SPACE(v);
        twice = space & (cv_u8)CV_KEY_SPACE(before);
        memcpy(lanes, &twice, 16);
        if (lanes[0] | lanes[1])
            return 0;
        upper = (cv_u8)((cv_u8)(v - 0x41) <= 25);
        mapped = ((v + (upper & 0x20)) & ~space) | (space & 0x20);
        memcpy(out, &mapped, 16);
        *last = space[15] != 0;
        return 1;
    }
    """
    bint cv_key_block(const unsigned char *p, unsigned char *out, int *last) nogil


cdef Py_ssize_t _key_span(const unsigned char *data, Py_ssize_t n, char *out, Py_ssize_t k,
                          bint *space) noexcept nogil:
    """Append ``data`` to ``out`` at ``k`` as key_text has it, whitespace runs one space
    (``space``: the last character appended was one); the new length. A block of BLOCK
    characters at once where no whitespace follows whitespace (past the first character, so
    that the one before is read from ``data``), else a character at a time with no branch."""
    cdef Py_ssize_t i = 0, stop
    cdef bint before = space[0], now
    cdef int last
    while i < n:
        if i > 0 and i + BLOCK <= n and cv_key_block(data + i, <unsigned char *>out + k, &last):
            i += BLOCK
            k += BLOCK
            before = last
            continue
        stop = min(n, i + BLOCK) if i > 0 else 1
        while i < stop:
            now = _KEY_SPACE[data[i]]
            out[k] = _KEY_CHAR[data[i]]
            k += not (now and before)
            before = now
            i += 1
    space[0] = before
    return k


cdef Py_ssize_t _normalised(const unsigned char *first, Py_ssize_t a,
                            const unsigned char *second, Py_ssize_t b,
                            char *out) noexcept nogil:
    """key_text of two ASCII texts into ``out`` (room for ``a + b + 1``); its length."""
    cdef bint space = True  # no space before the first word
    cdef const unsigned char *newline = b"\n"
    cdef Py_ssize_t k = _key_span(first, a, out, 0, &space)
    k = _key_span(second, b, out, _key_span(newline, 1, out, k, &space), &space)
    return k - 1 if space and k else k  # nor after the last


cdef char *_ascii_key_text(str instruction, str input, Py_ssize_t *size) except? NULL:
    """key_text of two ASCII texts in a new buffer (free it), or NULL when either is not."""
    if not (PyUnicode_IS_ASCII(instruction) and PyUnicode_IS_ASCII(input)):
        return NULL
    cdef Py_ssize_t a = PyUnicode_GET_LENGTH(instruction), b = PyUnicode_GET_LENGTH(input)
    cdef char *out = <char *>malloc(a + b + 1)
    if not out:
        raise MemoryError()
    size[0] = _normalised(<const unsigned char *>PyUnicode_DATA(instruction), a,
                          <const unsigned char *>PyUnicode_DATA(input), b, out)
    return out


def key_text(str instruction not None, str input not None):
    """converter.builtin.checks.key_text: ``instruction`` and ``input`` casefolded, each run of
    whitespace one space (ASCII text in one pass here)."""
    cdef Py_ssize_t size = 0
    cdef char *out = _ascii_key_text(instruction, input, &size)
    if out == NULL:
        return " ".join(f"{instruction}\n{input}".casefold().split())
    try:
        return out[:size].decode("ascii")
    finally:
        free(out)


#: What a text holds beyond plain prose and numbers (bits _scan_in finds): each asks for its
#: own scan, as converter.anchors' substring tests do.
cdef enum Trigger:
    FULL_WIDTH = 1  # a full-width digit: the text is read with ASCII digits first
    URL = 2  # "://"
    PLACEHOLDER = 4  # "{", "[_" or a printf token
    FENCE = 8  # a backtick


cdef inline bint _may_trigger(unsigned int c) noexcept nogil:
    """Whether ``c`` may start a trigger: { ` [ % : or a full-width digit."""
    return ((c == 0x7B) | (c == 0x60) | (c == 0x5B) | (c == 0x25) | (c == 0x3A)
            | (c - 0xFF10 <= 9))


cdef Py_ssize_t _scan_in(const chars *data, Py_ssize_t n, char *out, Py_ssize_t k,
                         Py_ssize_t *count, int *triggers) noexcept nogil:
    """Append the numbers of the ``n`` characters at ``data`` (converter.anchors._NUMBER:
    digits with "." and thousands "," inside, commas removed) to the numbers text ``out`` of
    ``k`` bytes and ``count`` numbers (room for 3n / 2 + 1 more bytes), and add the text's
    Trigger bits to ``triggers``; the new length. One pass: the text between is skipped by
    the C library (one-byte text) or a block of characters at a time."""
    cdef Py_ssize_t i = 0, first, last, group
    cdef bint dotted
    cdef Py_UCS4 c, after
    while True:
        if chars is UCS1:
            i += strcspn(<const char *>data + i, "0123456789{`[%:")  # stops at a NUL too
        else:
            while i + BLOCK <= n and not _block_any(data + i, SCAN_IN):
                i += BLOCK
            while i < n and not (_is_digit(data[i]) or _may_trigger(data[i])):
                i += 1
        if i >= n:
            return k
        c = data[i]
        i += 1
        if _is_digit(c):
            first = last = i - 1
            group, dotted = 1, False  # digits since the start or the last comma; a "." seen
            while i < n:
                if _is_digit(data[i]):
                    last = i
                    group += 1
                elif data[i] == 0x2E:
                    dotted = True
                elif not dotted and group <= 3 and _thousands(data, i, n):
                    group = 0
                else:
                    break
                i += 1
            if last > first:
                k = _add_number(data, first, last, out, k, count)
            continue
        after = data[i] if i < n else 0
        if c == 0x7B or (c == 0x5B and after == 0x5F):  # { [_
            triggers[0] |= PLACEHOLDER
        elif c == 0x25 and (after == 0x73 or after == 0x64 or after == 0x69 or after == 0x66):
            triggers[0] |= PLACEHOLDER  # %s %d %i %f
        elif c == 0x60:
            triggers[0] |= FENCE
        elif c == 0x3A and after == 0x2F and i + 1 < n and data[i + 1] == 0x2F:
            triggers[0] |= URL
        elif 0xFF10 <= c <= 0xFF19:
            triggers[0] |= FULL_WIDTH


cdef inline bint _thousands(const chars *data, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """Whether ``data[i]`` is a comma that separates thousands: three digits follow, then none."""
    return (data[i] == 0x2C and i + 3 < n and _is_digit(data[i + 1]) and _is_digit(data[i + 2])
            and _is_digit(data[i + 3]) and (i + 4 == n or not _is_digit(data[i + 4])))


cdef inline Py_ssize_t _add_number(const chars *data, Py_ssize_t first, Py_ssize_t last,
                                   char *out, Py_ssize_t k, Py_ssize_t *count) noexcept nogil:
    """Append ``data[first:last + 1]`` without its commas to the numbers text ``out`` of
    ``k`` bytes, unless it is there already (looked for while there are FEW_NUMBERS at most;
    past that, _scan_texts takes each once); the new length."""
    cdef Py_ssize_t start = k, j
    for j in range(first, last + 1):
        if data[j] != 0x2C:
            out[k] = <char>data[j]
            k += 1
    out[k] = 0x20
    if count[0] <= FEW_NUMBERS and _has_token(out, start, out + start, k - start):
        return start
    count[0] += 1
    return k + 1


cdef Py_ssize_t _scan(str text, char *out, Py_ssize_t k, Py_ssize_t *count,
                      int *triggers) noexcept:
    """:func:`_scan_in` of ``text``, whatever its width."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    if kind == 1:
        return _scan_in(<UCS1 *>data, n, out, k, count, triggers)
    if kind == 2:
        return _scan_in(<UCS2 *>data, n, out, k, count, triggers)
    return _scan_in(<UCS4 *>data, n, out, k, count, triggers)


#: Full-width digits and separators as ASCII (converter.anchors._FULL_WIDTH).
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，％", "0123456789.,%")
#: ASCII characters of a URL after its scheme (converter.anchors._URL), and those stripped
#: from its end.
cdef unsigned char _URL_CHAR[128]
cdef unsigned char _URL_END[128]
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'*+,;=%":
    _URL_CHAR[ord(_c)] = 1
for _c in ".,;:!?)]'":
    _URL_END[ord(_c)] = 1


cdef inline bint _in_table(unsigned char *table, Py_UCS4 c) noexcept nogil:
    return c < 128 and table[c]


cdef inline bint _word_char(Py_UCS4 c) noexcept nogil:
    return _ascii_letter(c) or _is_digit(c) or c == 0x5F


cdef str _HTTP = "http"


cdef set _urls(str text):
    """``_URL.findall(text)``, each without trailing punctuation (None when there is none)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, at, j, tail, end
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef set found = None
    while True:
        at = _find(text, _HTTP, i)
        if at < 0:
            return found
        j = at + 4
        if j < n and PyUnicode_READ(kind, data, j) == 0x73:  # https
            j += 1
        if (j + 3 <= n and PyUnicode_READ(kind, data, j) == 0x3A
                and PyUnicode_READ(kind, data, j + 1) == 0x2F
                and PyUnicode_READ(kind, data, j + 2) == 0x2F):
            tail = j = j + 3
            while j < n and _in_table(_URL_CHAR, PyUnicode_READ(kind, data, j)):
                j += 1
            if j > tail:
                end = j
                while _in_table(_URL_END, PyUnicode_READ(kind, data, end - 1)):
                    end -= 1
                if found is None:
                    found = set()
                found.add(text[at:end])
                i = j
                continue
        i = at + 1


cdef set _placeholders(str text):
    """``_PLACEHOLDER.findall(text)``: ``[__]``, ``{x}``, ``%s``, ``${x}`` (None: none)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, j, end
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef Py_UCS4 c, after
    cdef set found = None
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        after = PyUnicode_READ(kind, data, i + 1) if i + 1 < n else 0
        end = -1
        if c == 0x5B:  # [_+]
            j = i + 1
            while j < n and PyUnicode_READ(kind, data, j) == 0x5F:
                j += 1
            if j > i + 1 and j < n and PyUnicode_READ(kind, data, j) == 0x5D:
                end = j + 1
        elif c == 0x7B or (c == 0x24 and after == 0x7B):  # {x*} or ${x+}
            j = i + 1 if c == 0x7B else i + 2
            while j < n and _word_char(PyUnicode_READ(kind, data, j)):
                j += 1
            if (c == 0x7B or j > i + 2) and j < n and PyUnicode_READ(kind, data, j) == 0x7D:
                end = j + 1
        elif c == 0x25 and (after == 0x73 or after == 0x64 or after == 0x69 or after == 0x66):
            end = i + 2  # %s %d %i %f
        if end < 0:
            i += 1
            continue
        if found is None:
            found = set()
        found.add(text[i:end])
        i = end
    return found


cdef str _FENCE = "```"


def anchor_parts(str text not None):
    """converter.anchors.find_anchors' anchors of ``text`` as (numbers, urls, placeholders,
    fences), or None when it has none."""
    found = _anchors(text, _EMPTY, _EMPTY)
    return None if found is None else (_number_set(found[0]), *found[1:])


cdef str _EMPTY = ""


cdef set _union(set into, set more):
    """``into`` with ``more`` added (either may be None: none)."""
    if into is None:
        return more
    if more is not None:
        into |= more
    return into


cdef tuple _anchors(str a, str b, str c):
    """:func:`anchor_parts` of ``a``, ``b`` and ``c`` joined by newlines, with the numbers as
    a numbers text (see _numbers), as the kernels read them. No anchor spans a newline, so each
    text is read where it lies, in its own width, none copied (unless a full-width digit asks
    for all of them to be read as ASCII, as the joined text would be)."""
    cdef int triggers[3]
    cdef bytes found_numbers = _scan_texts(a, b, c, triggers)
    if (triggers[0] | triggers[1] | triggers[2]) & FULL_WIDTH:
        a, b, c = a.translate(_FULL_WIDTH), b.translate(_FULL_WIDTH), c.translate(_FULL_WIDTH)
        found_numbers = _scan_texts(a, b, c, triggers)
    cdef int ta = triggers[0], tb = triggers[1], tc = triggers[2]
    cdef object urls = _NO_STRINGS, placeholders = _NO_STRINGS
    cdef set found = None
    cdef Py_ssize_t fences = 0
    if (ta | tb | tc) & URL:
        found = _union(_union(_urls(a) if ta & URL else None, _urls(b) if tb & URL else None),
                       _urls(c) if tc & URL else None)
        if found:
            urls = frozenset(found)
            if found_numbers:  # digits inside a URL are part of it, not numbers of their own
                found_numbers = _without(found_numbers, _numbers(" ".join(found), None, None))
    if (ta | tb | tc) & PLACEHOLDER:
        found = _union(_union(_placeholders(a) if ta & PLACEHOLDER else None,
                              _placeholders(b) if tb & PLACEHOLDER else None),
                       _placeholders(c) if tc & PLACEHOLDER else None)
        if found:
            placeholders = frozenset(found)
    if (ta | tb | tc) & FENCE:
        fences = (PyUnicode_Count(a, _FENCE, 0, PyUnicode_GET_LENGTH(a))
                  + PyUnicode_Count(b, _FENCE, 0, PyUnicode_GET_LENGTH(b))
                  + PyUnicode_Count(c, _FENCE, 0, PyUnicode_GET_LENGTH(c))) // 2
    if not (found_numbers or urls or placeholders or fences):
        return None
    return found_numbers, urls, placeholders, fences


# A record's kernel_cache: its anchors (a source's) or its digit runs (a translation's), each
# made on first use; both, as [anchors, runs], when a record is asked for both.
cdef tuple _NO_ANCHORS = ()  # the cached anchors of a record without any


cdef enum Cached:
    NOTHING, ANCHORS, RUNS, BOTH  # what a record's kernel_cache holds


cdef inline Cached _cached(object cache) except *:
    """What ``cache`` (a record's kernel_cache) holds; TypeError for what no kernel put there."""
    if cache is None:
        return NOTHING
    if type(cache) is bytes:
        return RUNS
    if type(cache) is tuple and len(<tuple>cache) in (0, 4):
        return ANCHORS
    if type(cache) is list and len(<list>cache) == 2:
        return BOTH
    raise TypeError("kernel_cache is the compiled checks' own")


cdef inline tuple _anchors_of(record):
    """The record's :func:`anchor_parts` of its three fields, computed once (the aligner's
    scores and the screen both read them)."""
    cache = _field(record, KERNEL_CACHE)
    cdef Cached held = _cached(cache)
    if held == ANCHORS:
        return None if len(<tuple>cache) == 0 else <tuple>cache
    if held == BOTH:
        return (<list>cache)[0]
    anchors = _anchors(_text(record, INSTRUCTION), _text(record, INPUT), _text(record, OUTPUT))
    if held == NOTHING:
        _set_cache(record, _NO_ANCHORS if anchors is None else anchors)
    else:
        _set_cache(record, [anchors, cache])
    return anchors


cdef inline bytes _runs_of(record):
    """The record's digit runs of its three fields, computed once."""
    cache = _field(record, KERNEL_CACHE)
    cdef Cached held = _cached(cache)
    if held == RUNS:
        return <bytes>cache
    if held == BOTH:
        return (<list>cache)[1]
    runs = _digit_runs(_text(record, INSTRUCTION), _text(record, INPUT), _text(record, OUTPUT))
    if held == NOTHING:
        _set_cache(record, runs)
    else:
        _set_cache(record, [None if len(<tuple>cache) == 0 else cache, runs])
    return runs


#: Bits of GroupScreen.screen: the checks that may find something in a group.
cpdef enum:
    EMPTY = 1
    LANGUAGE = 2
    UNTRANSLATED = 4
    PRESERVED = 8


# --- The shared classifier (converter.langid.classify) for field_script -------------------------

#: Must equal converter.langid's (classifier_constants; tests/test_kernels.py checks).
cdef enum:
    MIN_LATIN_LETTERS = 3
    LATIN_DOMINANCE = 2
    PROSE_MIN_CJK = 8
    PROSE_LATIN_CAP = 24
    KANA_SHORT_CJK = 8
    MIX_MIN_CHARS = 3
    CLASSIFIED_CHARS = 2000  # field_script classifies a text's first 2000 characters
cdef double KO_MIN_SHARE = 0.2, KANA_MIN_SHARE = 0.05, JA_ONLY_MIN_SHARE = 0.05
cdef double AMBIGUOUS_MIX_RATIO = 0.3

#: field_script's verdicts (Verdict), their names, and quick_script's in them.
cdef enum Verdict:
    V_UND, V_LATIN, V_JA, V_ZH, V_KO
cdef tuple _VERDICT_NAMES = ("und", "latin", "ja", "zh", "ko")
cdef Verdict _QUICK_VERDICT[4]
_QUICK_VERDICT[:] = [V_UND, V_LATIN, V_JA, V_UND]  # by Script (UNDECIDED is not a verdict)

cdef str _CLASSES = None  # converter.langid.CLASS_TABLE: a class letter per code point
#: Counts of the classes (converter.langid.ScriptCounts, in its order).
cdef enum:
    C_LATIN, C_KANA, C_HAN, C_JA, C_SIMP, C_TRAD, C_HANGUL, C_PUNCT, CLASS_COUNTS
cdef signed char _CLASS_OF[128]  # class letter -> ClassCount, -1 for none
for _c in range(128):
    _CLASS_OF[_c] = -1
for _k, _c in enumerate("LKHJSTGP"):
    _CLASS_OF[ord(_c)] = _k


def classifier_constants():
    """The classifier's thresholds as compiled, by converter.langid's names (tests hold them
    equal to langid's)."""
    return {
        "MIN_LATIN_LETTERS": MIN_LATIN_LETTERS, "LATIN_DOMINANCE": LATIN_DOMINANCE,
        "PROSE_MIN_CJK": PROSE_MIN_CJK, "PROSE_LATIN_CAP": PROSE_LATIN_CAP,
        "KO_MIN_SHARE": KO_MIN_SHARE, "KANA_MIN_SHARE": KANA_MIN_SHARE,
        "KANA_SHORT_CJK": KANA_SHORT_CJK, "JA_ONLY_MIN_SHARE": JA_ONLY_MIN_SHARE,
        "AMBIGUOUS_MIX_RATIO": AMBIGUOUS_MIX_RATIO, "MIX_MIN_CHARS": MIX_MIN_CHARS,
    }


def bind_classes(str table not None):
    """Read characters' classes from ``table`` (converter.langid.CLASS_TABLE: one ASCII class
    letter per code point, "." for none) from now on."""
    global _CLASSES
    if not PyUnicode_IS_ASCII(table):
        raise ValueError("the class table holds one ASCII letter a code point")
    _CLASSES = table


cdef unsigned char _URL_TAIL[128]  # converter.langid's _URL_CHARS
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%":
    _URL_TAIL[ord(_c)] = 1
cdef unsigned char _MAIL_LOCAL[128]  # an e-mail address's local part; its domain's labels
cdef unsigned char _MAIL_LABEL[128]
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-":
    _MAIL_LOCAL[ord(_c)] = _MAIL_LABEL[ord(_c)] = 1
for _c in "._%+":
    _MAIL_LOCAL[ord(_c)] = 1
cdef unsigned char _WORD_DOT[128]  # what may not stand before "www."
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.":
    _WORD_DOT[ord(_c)] = 1


cdef inline unsigned int _at(int kind, void *data, Py_ssize_t n, Py_ssize_t i) noexcept:
    """The character at ``i``, 0 past the end."""
    return PyUnicode_READ(kind, data, i) if 0 <= i < n else 0


cdef inline bint _ascii_in(unsigned char *table, unsigned int c) noexcept:
    return c < 128 and table[c]


cdef inline Py_ssize_t _run_of(unsigned char *table, int kind, void *data, Py_ssize_t n,
                               Py_ssize_t i) noexcept:
    """The end of the run of ``table``'s characters from ``i``."""
    while i < n and _ascii_in(table, PyUnicode_READ(kind, data, i)):
        i += 1
    return i


cdef Py_ssize_t _noise_at(int kind, void *data, Py_ssize_t n, Py_ssize_t p) noexcept:
    """Where the match of converter.langid's noise pattern at ``p`` ends (a fenced code block,
    inline code, a URL, an e-mail address, tried in that order), or -1 when none starts there."""
    cdef unsigned int c = PyUnicode_READ(kind, data, p), before = _at(kind, data, n, p - 1)
    cdef Py_ssize_t j, end
    if c == 0x60:  # ``` to the next ``` (or the end); else `...` on one line
        if _at(kind, data, n, p + 1) == 0x60 and _at(kind, data, n, p + 2) == 0x60:
            j = p + 3
            while j + 2 < n:
                if (PyUnicode_READ(kind, data, j) == 0x60 and PyUnicode_READ(kind, data, j + 1) == 0x60
                        and PyUnicode_READ(kind, data, j + 2) == 0x60):
                    return j + 3
                j += 1
            return n
        j = p + 1
        while j < n and PyUnicode_READ(kind, data, j) != 0x60 and PyUnicode_READ(kind, data, j) != 0x0A:
            j += 1
        return j + 1 if j < n and PyUnicode_READ(kind, data, j) == 0x60 else -1
    j = -1
    if c | 0x20 == 0x68:  # http:// https://, any case
        if (_at(kind, data, n, p + 1) | 0x20 == 0x74 and _at(kind, data, n, p + 2) | 0x20 == 0x74
                and _at(kind, data, n, p + 3) | 0x20 == 0x70):
            j = p + 4 + (_at(kind, data, n, p + 4) | 0x20 == 0x73)
            if not (_at(kind, data, n, j) == 0x3A and _at(kind, data, n, j + 1) == 0x2F
                    and _at(kind, data, n, j + 2) == 0x2F):
                return _mail_at(kind, data, n, p)
            j += 3
    elif c | 0x20 == 0x77 and not _ascii_in(_WORD_DOT, before):  # www., not inside a name
        if (_at(kind, data, n, p + 1) | 0x20 == 0x77 and _at(kind, data, n, p + 2) | 0x20 == 0x77
                and _at(kind, data, n, p + 3) == 0x2E):
            j = p + 4
    if j >= 0:
        end = _run_of(_URL_TAIL, kind, data, n, j)
        if end > j:
            return end
    return _mail_at(kind, data, n, p)


cdef Py_ssize_t _mail_at(int kind, void *data, Py_ssize_t n, Py_ssize_t p) noexcept:
    """Where the e-mail address at ``p`` ends (its local part starts there, not inside a run of
    its characters), or -1."""
    if not _ascii_in(_MAIL_LOCAL, PyUnicode_READ(kind, data, p)) or _ascii_in(
        _MAIL_LOCAL, _at(kind, data, n, p - 1)
    ):
        return -1
    cdef Py_ssize_t j = _run_of(_MAIL_LOCAL, kind, data, n, p), end
    if _at(kind, data, n, j) != 0x40:
        return -1
    end = _run_of(_MAIL_LABEL, kind, data, n, j + 1)
    if end == j + 1:
        return -1
    j = end  # then one or more ".label"
    while _at(kind, data, n, end) == 0x2E and _ascii_in(_MAIL_LABEL, _at(kind, data, n, end + 1)):
        end = _run_of(_MAIL_LABEL, kind, data, n, end + 1)
    return end if end > j else -1


cdef void _count_classes(str text, Py_ssize_t n, long *counts) noexcept:
    """converter.langid.count_scripts of ``text[:n]``: each character's class counted, the
    noise skipped."""
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef const unsigned char *classes = <const unsigned char *>PyUnicode_DATA(_CLASSES)
    cdef Py_ssize_t size = PyUnicode_GET_LENGTH(_CLASSES), p = 0, end
    cdef unsigned int c
    cdef signed char k
    cdef int j
    for j in range(CLASS_COUNTS):
        counts[j] = 0
    while p < n:
        c = PyUnicode_READ(kind, data, p)
        if c == 0x60 or c | 0x20 == 0x68 or (  # a match may start here
            _ascii_in(_MAIL_LOCAL, c) and not _ascii_in(_WORD_DOT, _at(kind, data, n, p - 1))
        ):
            end = _noise_at(kind, data, n, p)
            if end >= 0:
                p = end
                continue
        if c < <Py_UCS4>size:
            k = _CLASS_OF[classes[c] & 0x7F]
            if k >= 0:
                counts[k] += 1
        p += 1


cdef Verdict _classified(str text, Py_ssize_t min_letters) except *:
    """converter.builtin.checks.field_script's verdict from the classifier (the text's quick
    tests undecided)."""
    if _CLASSES is None:
        raise RuntimeError("bind_classes first")
    cdef long counts[CLASS_COUNTS]
    _count_classes(text, min(PyUnicode_GET_LENGTH(text), CLASSIFIED_CHARS), counts)
    cdef long latin = counts[C_LATIN], kana = counts[C_KANA], hangul = counts[C_HANGUL]
    cdef long han = counts[C_HAN] + counts[C_JA] + counts[C_SIMP] + counts[C_TRAD]
    cdef long ja = counts[C_JA], simp = counts[C_SIMP], trad = counts[C_TRAD]
    cdef long cjk = kana + han + hangul
    if latin + cjk < min_letters // 3:
        return V_UND
    if cjk == 0:
        return V_LATIN if latin >= MIN_LATIN_LETTERS else V_UND
    if latin > LATIN_DOMINANCE * cjk and not (
        counts[C_PUNCT] and cjk >= PROSE_MIN_CJK and latin <= PROSE_LATIN_CAP * cjk
    ):
        return V_LATIN
    if hangul >= KO_MIN_SHARE * cjk:
        return V_KO
    if kana and (kana >= KANA_MIN_SHARE * (kana + han) or cjk < KANA_SHORT_CJK):
        return V_JA
    if ja and ja >= JA_ONLY_MIN_SHARE * han:
        return V_JA
    if (simp and trad and simp + trad >= MIX_MIN_CHARS
            and min(simp, trad) >= AMBIGUOUS_MIX_RATIO * max(simp, trad)):
        return V_JA
    return V_ZH if kana or simp else V_UND  # Han alone may be Japanese or Traditional Chinese


cdef Verdict _field_verdict(str text, double latin_share, Py_ssize_t min_letters) except *:
    """field_script's verdict: the quick tests, then the classifier."""
    cdef Script quick = _script(text, latin_share, min_letters)
    return _QUICK_VERDICT[<int>quick] if quick != UNDECIDED else _classified(text, min_letters)


def field_script(str text not None, double latin_share, Py_ssize_t min_letters):
    """converter.builtin.checks.field_script (its thresholds given): "und", "latin", "ja",
    "zh" or "ko". Needs :func:`bind_classes` first (converter.builtin.checks binds langid's
    table when it is imported)."""
    return _VERDICT_NAMES[_field_verdict(text, latin_share, min_letters)]


cdef object _UNSEEN = object()  # no record's language: nothing remembered at a position yet
cdef enum:
    SEEN_POSITIONS = 8  # group positions whose language the screen remembers
    TAKES_ASCII = 1 << 8  # a language whose ASCII text is not judged
    ACCEPTS = 1 << 9  # a language with its own ``accepts`` test


cdef int _language_flags(bint takes_ascii, bint accepts, frozenset scripts):
    """A language's screen flags: TAKES_ASCII, ACCEPTS and the bit ``1 << verdict`` of each
    field_script verdict but "und" that is one of its ``scripts`` (every one when it names
    none)."""
    cdef int flags = TAKES_ASCII * takes_ascii | ACCEPTS * accepts, verdict
    for verdict in range(V_LATIN, V_KO + 1):
        if not scripts or _VERDICT_NAMES[verdict] in scripts:
            flags |= 1 << verdict
    return flags


cdef class GroupScreen:
    """Which of the stateless built-in checks may find something in a group: ``screen(group)``
    is a mask of EMPTY, LANGUAGE, UNTRANSLATED and PRESERVED, a bit clear only where that
    check's compare surely returns nothing (converter/screening.py; tests/test_kernels.py)."""

    cdef dict languages
    cdef double latin_share
    cdef Py_ssize_t min_letters, prose_words
    cdef int enabled
    cdef list seen_langs  # the language of the record at each position of the last group
    cdef int seen_flags[SEEN_POSITIONS]  # and its flags

    def __init__(self, dict languages, double latin_share, Py_ssize_t min_letters,
                 Py_ssize_t prose_words, int enabled):
        """``languages``: code -> (takes ASCII unjudged, has an ``accepts`` test, scripts);
        the language check's thresholds; the words untranslated prose has at least; the
        mask of the checks the run has on (the others are not looked at)."""
        self.languages = {
            code: _language_flags(how[0], how[1], how[2]) for code, how in languages.items()
        }
        self.latin_share, self.min_letters = latin_share, min_letters
        self.prose_words, self.enabled = prose_words, enabled
        self.seen_langs = [_UNSEEN] * SEEN_POSITIONS

    cpdef int screen(self, list group) except -1:
        """The mask of checks to run on ``group`` (records, the source first)."""
        cdef int found = 0, enabled = self.enabled
        if enabled & EMPTY:
            found |= self._empty(group)
        if enabled & LANGUAGE:
            found |= self._language(group)
        if enabled & UNTRANSLATED:
            found |= self._untranslated(group)
        if enabled & PRESERVED:
            found |= self._preserved(group)
        return found

    cdef int _empty(self, list group) except -1:
        cdef Py_ssize_t blank_inputs = 0
        for record in group:
            if _blank(_text(record, INSTRUCTION)) or _blank(_text(record, OUTPUT)):
                return EMPTY
            blank_inputs += _blank(_text(record, INPUT))
        return 0 if blank_inputs == 0 or blank_inputs == len(group) else EMPTY

    cdef int _language(self, list group) except -1:
        cdef str text
        cdef Verdict verdict
        cdef int f, flags
        cdef Py_ssize_t k
        for k in range(len(group)):
            record = group[k]
            flags = self._flags(k, _field(record, LANG))
            for f in range(2):
                text = _text(record, INSTRUCTION if f == 0 else OUTPUT)
                if flags & TAKES_ASCII and PyUnicode_IS_ASCII(text):
                    continue
                if flags & ACCEPTS:
                    return LANGUAGE
                verdict = _field_verdict(text, self.latin_share, self.min_letters)
                if verdict == V_UND or flags & (1 << verdict):
                    continue
                if not _looks_like_code(text):  # code is not judged, whatever its script
                    return LANGUAGE
        return 0

    cdef inline int _flags(self, Py_ssize_t k, lang) except? -1:
        """The flags of ``lang``, the language of the record at position ``k`` (the same as
        the last group's there, as a rule: no lookup then)."""
        if k >= SEEN_POSITIONS:
            return self.languages[lang]
        if self.seen_langs[k] is not lang:
            self.seen_flags[k] = self.languages[lang]
            self.seen_langs[k] = lang
        return self.seen_flags[k]

    cdef int _untranslated(self, list group) except -1:
        source = group[0]
        cdef Py_ssize_t k, words = self.prose_words
        cdef int f
        cdef str text
        for k in range(1, len(group)):
            for f in range(INSTRUCTION, OUTPUT + 1):
                text = _text(group[k], <Field>f)
                if text == _text(source, <Field>f) and _is_prose(text, words):
                    return UNTRANSLATED
        return 0

    cdef int _preserved(self, list group) except -1:
        """converter.anchors.lost_in's substring tests: clear when every translation holds
        every anchor of the source as written."""
        cdef tuple anchors = _anchors_of(group[0])
        if anchors is None:
            return 0
        cdef str a, b, c, token
        cdef bytes numbers = anchors[0]
        cdef Py_ssize_t k, fences = anchors[3], found, total = 0
        if _many(numbers, len(anchors[1]) + len(anchors[2])):
            return PRESERVED  # compared as sets (converter.anchors.lost_in): not screened
        for k in range(1, len(group)):
            record = group[k]
            a, b, c = _text(record, INSTRUCTION), _text(record, INPUT), _text(record, OUTPUT)
            if numbers and _numbers_held(_runs_of(record), numbers, True, &total) < total:
                return PRESERVED
            for tokens in (anchors[1], anchors[2]):  # URLs, placeholders
                for token in tokens:
                    if not _contains_any(token, a, b, c):
                        return PRESERVED
            if fences:
                found = (PyUnicode_Count(a, _FENCE, 0, PyUnicode_GET_LENGTH(a))
                         + PyUnicode_Count(b, _FENCE, 0, PyUnicode_GET_LENGTH(b))
                         + PyUnicode_Count(c, _FENCE, 0, PyUnicode_GET_LENGTH(c)))
                if found // 2 < fences:
                    return PRESERVED
        return 0


cdef class Aligner:
    """converter.alignment.Aligner: the same groups, findings and repairs (see there for what
    it does). The per-group path (fill, the diagonal score, learning, popping) runs in C; a
    suspected shift runs the same steps as the Python code, on Python objects, and asks the
    Python ``shift_at_front`` where it starts."""

    cdef list streams, buffers, langs, medians, poplefts
    cdef readonly list repairs
    cdef bint realign
    cdef Py_ssize_t sources, window, history, min_evidence
    cdef double margin
    cdef object record_type, gap_type, shift_at_front
    cdef Scorer scorer
    cdef dict cache
    cdef bint *ended
    cdef long *shift
    cdef Py_ssize_t *quiet  # groups since the window last showed a target's shift (see twin)
    cdef double *gains  # the shifted pairing's gains over the window, scratch
    # each target's positional scores of its front pairs, a ring of ``window`` per source
    cdef double *diagonals
    cdef Py_ssize_t *heads
    cdef Py_ssize_t *counts

    def __init__(self, list streams, list langs, bint realign, record_type, gap_type,
                 Scorer scorer, medians, Py_ssize_t window, Py_ssize_t history, double margin,
                 Py_ssize_t min_evidence, shift_at_front):
        """``medians()`` makes a learned ratio; ``window``, ``history``, ``margin``,
        ``min_evidence`` and ``shift_at_front`` (the rare search for where a shift starts) as
        in alignment (WINDOW, HISTORY, MARGIN, MIN_EVIDENCE)."""
        cdef Py_ssize_t n = len(streams)
        self.streams, self.langs, self.realign, self.sources = streams, langs, realign, n
        self.record_type, self.gap_type, self.scorer = record_type, gap_type, scorer
        self.window, self.history, self.shift_at_front = window, history, shift_at_front
        self.margin, self.min_evidence = margin, min_evidence
        self.buffers = [deque() for _ in range(n)]
        self.poplefts = [buffer.popleft for buffer in self.buffers]  # bound once
        self.medians = [(medians(), medians()) for _ in range(n)]
        self.repairs, self.cache = [], {}
        self.ended = <bint *>calloc(n, sizeof(bint))
        self.shift = <long *>calloc(n, sizeof(long))
        self.quiet = <Py_ssize_t *>calloc(n, sizeof(Py_ssize_t))
        self.gains = <double *>calloc(window, sizeof(double))
        self.diagonals = <double *>calloc(n * window, sizeof(double))
        self.heads = <Py_ssize_t *>calloc(n, sizeof(Py_ssize_t))
        self.counts = <Py_ssize_t *>calloc(n, sizeof(Py_ssize_t))
        if not (self.ended and self.shift and self.quiet and self.gains and self.diagonals
                and self.heads and self.counts):
            raise MemoryError()

    def __dealloc__(self):
        free(self.ended)
        free(self.shift)
        free(self.quiet)
        free(self.gains)
        free(self.diagonals)
        free(self.heads)
        free(self.counts)

    def groups(self):
        """Every group in order (this object is its own iterator)."""
        return self

    def __iter__(self):
        return self

    def __next__(self):
        self._fill()
        cdef Py_ssize_t k
        for k in range(self.sources):
            if len(<object>self.buffers[k]):
                break
        else:
            raise StopIteration
        for k in range(1, self.sources):
            self._watch(k)
        return self._pop()

    def rest(self, Py_ssize_t k):
        """What is left of source ``k``: its buffer, then its stream."""
        return chain(self.buffers[k], self.streams[k])

    cdef int _fill(self) except -1:
        cdef Py_ssize_t k, low = -1, size, full = 2 * self.window + 2
        cdef bint all_ended = True
        for k in range(self.sources):
            size = len(<object>self.buffers[k])
            if low < 0 or size < low:
                low = size
            all_ended = all_ended and self.ended[k]
        if low > self.window + 1 or all_ended:
            return 0
        for k in range(self.sources):
            if self.ended[k]:
                continue
            buffer = self.buffers[k]
            if len(buffer) >= full:  # full already: the gaps of repairs went in front
                continue
            buffer.extend(islice(self.streams[k], full - len(buffer)))
            if len(buffer) < full:
                self.ended[k] = True
        return 0

    cdef inline double *_ring(self, Py_ssize_t k):
        return self.diagonals + k * self.window

    cdef object _pop(self):
        cdef Py_ssize_t k
        cdef tuple medians
        first = self.buffers[0]
        source = first[0] if first else None
        cdef bint read = type(source) is self.record_type
        if source is not None and type(source) is not self.gap_type:
            for k in range(1, self.sources):
                buffer = self.buffers[k]
                medians = self.medians[k]
                # (an unread source record: learned as none, as the Python twin)
                if self.scorer.learn(source, buffer[0] if buffer and read else None,
                                     medians[0], medians[1]):
                    self.cache.clear()  # cached scores were made with the former ratios
        if len(self.cache) > 64 * self.window:
            self.cache.clear()
        for k in range(self.sources):
            if self.counts[k]:
                self.heads[k] = (self.heads[k] + 1) % self.window
                self.counts[k] -= 1
        cdef list group = []
        for k in range(self.sources):
            group.append(self.poplefts[k]() if len(<object>self.buffers[k]) else None)
        return tuple(group)

    cdef int _watch(self, Py_ssize_t k) except -1:
        src, tgt = self.buffers[0], self.buffers[k]
        cdef Py_ssize_t n = min(self.window, len(src), len(tgt)), j
        if n == 0:
            return 0
        if self.shift[k]:
            if self.quiet[k] < self.history:
                self._continue_shift(k, n)
                return 0
            self.shift[k] = 0  # not shown for ``history`` groups: over (see the twin)
        self._diagonal(k, n)
        cdef double *ring = self._ring(k)
        cdef Py_ssize_t head = self.heads[k], count = self.counts[k]
        cdef double total = 0.0
        for j in range(count):
            total += ring[(head + j) % self.window]
        if ring[head] > 0 and fabs(total) > 1e-9 and total >= 0:
            return 0
        front = [ring[(head + j) % self.window] for j in range(count)]
        if ring[head] > 0 and sum(front) >= 0:  # a sum near 0 as Python's sum rounds it
            return 0
        d = self.shift_at_front(front[:n], lambda os_, ot: self._score(k, os_, ot, n))
        if d:
            self._found(k, d)
        return 0

    cdef int _diagonal(self, Py_ssize_t k, Py_ssize_t n) except -1:
        """Score the positional pairs of target ``k`` up to the ``n``-th, kept as the front
        moves."""
        cdef double *ring = self._ring(k)
        cdef Py_ssize_t j
        cdef tuple medians
        if self.counts[k] < n:
            src, tgt = self.buffers[0], self.buffers[k]
            medians = self.medians[k]
            centre_instruction = (<TrailingMedian>medians[0]).value
            centre_output = (<TrailingMedian>medians[1]).value
            for j in range(self.counts[k], n):
                ring[(self.heads[k] + j) % self.window] = self.scorer.score(
                    src[j], tgt[j], centre_instruction, centre_output)
                self.counts[k] += 1
        return 0

    cdef list _score(self, Py_ssize_t k, Py_ssize_t offset_source, Py_ssize_t offset_target,
                     Py_ssize_t count):
        src, tgt = self.buffers[0], self.buffers[k]
        cdef tuple medians = self.medians[k]
        cdef double centre_instruction = (<TrailingMedian>medians[0]).value
        cdef double centre_output = (<TrailingMedian>medians[1]).value
        cdef list scores = []
        cdef Py_ssize_t j
        for j in range(count):
            if j + offset_source >= len(src) or j + offset_target >= len(tgt):
                break
            a, b = src[j + offset_source], tgt[j + offset_target]
            key = (k, id(a), id(b))
            hit = self.cache.get(key)
            if hit is None:
                hit = (self.scorer.score(a, b, centre_instruction, centre_output), a, b)
                self.cache[key] = hit
            scores.append(hit[0])
        return scores

    cdef int _found(self, Py_ssize_t k, long d) except -1:
        src, tgt = self.buffers[0], self.buffers[k]
        where = next(m.index for m in chain(src, tgt) if type(m) is not self.gap_type)
        self.repairs.append(
            {"source": k, "shift": d, "from_index": where, "repaired": self.realign}
        )
        if not self.realign:
            self.shift[k], self.quiet[k] = d, 0
            self._mark(k)
            return 0
        cdef Py_ssize_t j
        for j in range(self.sources):
            self.counts[j] = 0
        for _ in range(abs(d)):
            if d > 0:  # target k lost records: their partners-to-be are gaps in k
                tgt.appendleft(self._gap(k))
            elif type(tgt[0]) is self.gap_type:  # an earlier repair's gap: k's record goes there
                tgt.popleft()
            else:  # target k has extra records: the others get gaps
                for j in range(self.sources):
                    if j != k:
                        self.buffers[j].appendleft(self._gap(j))
        return 0

    cdef object _gap(self, Py_ssize_t k):
        return self.gap_type(
            f"misalignment: no {self.langs[k]} partner (the shifted pairing was repaired)"
        )

    cdef int _continue_shift(self, Py_ssize_t k, Py_ssize_t n) except -1:
        cdef long d = self.shift[k]
        offsets = (d, 0) if d > 0 else (0, -d)  # alignment.shift_offsets
        diagonal, shifted = self._score(k, 0, 0, n), self._score(k, offsets[0], offsets[1], n)
        cdef double gain = 0.0, best = -1.0  # the shifted pairing's best lead from the front
        cdef Py_ssize_t j, m = min(len(diagonal), len(shifted))
        for j in range(m):
            self.gains[j] = <double>shifted[j] - <double>diagonal[j]
            gain += self.gains[j]
            if j == 0 or gain > best:
                best = gain
        if best < 0:
            self.shift[k] = 0
            return 0
        # (shown only where a search for it would run: alignment.Aligner._continue_shift)
        searched = not (m and <double>diagonal[0] > 0 and sum(diagonal) >= 0)
        if searched and self._shown_from_front(m):
            self.quiet[k] = 0
        else:
            self.quiet[k] += 1
        self._mark(k)
        return 0

    cdef bint _shown_from_front(self, Py_ssize_t m):
        """alignment.shown_from_front of the first ``m`` of ``self.gains``."""
        if m == 0:
            return False
        cdef Py_ssize_t c, j, start = 0
        cdef double best = self.gains[0], total
        for c in range(m):  # alignment._best_stretch
            total = 0.0
            for j in range(c, m):
                total += self.gains[j]
                if total > best:
                    start, best = c, total
        return start == 0 and best > self.margin * max(m, self.min_evidence)

    cdef int _mark(self, Py_ssize_t k) except -1:
        target = self.buffers[k][0]
        if type(target) is self.record_type:
            if target.features is None:
                target.features = {}
            target.features["misalignment"] = (
                f"{target.lang}: pairs look shifted by {self.shift[k]:+d}"
            )
        return 0


cdef class LengthRatios:
    """converter.builtin.checks' length-ratio compare: each translated field's log length ratio
    to the source's against the typical one learned per language (the same findings)."""

    cdef dict typical
    cdef double limit
    cdef Py_ssize_t min_length

    def __init__(self, dict typical, double limit, Py_ssize_t min_length):
        """``typical``: language -> {"instruction": TrailingMedian, "output": TrailingMedian}."""
        self.typical = {lang: (fields["instruction"], fields["output"])
                        for lang, fields in typical.items()}
        self.limit, self.min_length = limit, min_length

    def __call__(self, list group):
        """The findings of ``group`` (and learn its ratios)."""
        return self._find(group) or []

    cdef list _find(self, list group):
        """The findings of ``group``, None when there are none."""
        source = group[0]
        cdef long index = _field(source, INDEX)
        cdef Py_ssize_t k, a, b
        cdef double ratio
        cdef tuple medians
        cdef TrailingMedian learned
        cdef list findings = None
        cdef Py_ssize_t sources[2]
        sources[0], sources[1] = len(_text(source, INSTRUCTION)), len(_text(source, OUTPUT))
        for k in range(1, len(group)):
            record = group[k]
            medians = self.typical[_field(record, LANG)]
            for f in range(2):
                learned = medians[f]
                a = sources[f]
                b = len(_text(record, INSTRUCTION if f == 0 else OUTPUT))
                if a < self.min_length or not b:  # an empty field is the empty check's
                    learned._add(index, 0.0, False)
                    continue
                ratio = log(<double>b / <double>a)
                if fabs(ratio - learned.value_at(index)) > self.limit:
                    name = "instruction" if f == 0 else "output"
                    if findings is None:
                        findings = []
                    findings.append(f"{record.lang}: {name} is {b} characters for {source.lang}'s {a}")
                learned._add(index, ratio, fabs(ratio) <= self.limit)
        return findings


#: converter.seen.LINE_BITS: the bits of a key lie in one cache line of the filter.
LINE_BITS = 512
cdef long long _LINE_MASK = LINE_BITS - 1


cpdef bint bloom_add(bytearray bits, long long mask, long long key) except -1:
    """converter.seen's filter step: set the three bits of ``key``; True when all were set."""
    if mask < _LINE_MASK or len(bits) * 8 <= mask:
        raise ValueError("the mask reaches past the bits")
    cdef unsigned char *data = bits
    cdef long long p, line = key & mask & ~_LINE_MASK
    cdef bint maybe = True
    cdef int shift
    for shift in (32, 41, 50):
        p = line + ((key >> shift) & _LINE_MASK)
        if not data[p >> 3] & (1 << (p & 7)):
            maybe = False
            data[p >> 3] |= 1 << (p & 7)
    return maybe


# --- XXH64 (seed 0), for the duplicate check's keys: xxhash.xxh64_intdigest as signed ------

from libc.stdint cimport uint32_t, uint64_t, int64_t
cdef uint64_t _P1 = 0x9E3779B185EBCA87ULL
cdef uint64_t _P2 = 0xC2B2AE3D27D4EB4FULL
cdef uint64_t _P3 = 0x165667B19E3779F9ULL
cdef uint64_t _P4 = 0x85EBCA77C2B2AE63ULL
cdef uint64_t _P5 = 0x27D4EB2F165667C5ULL


cdef inline uint64_t _rotl(uint64_t x, int n) noexcept nogil:
    return (x << n) | (x >> (64 - n))


cdef inline uint64_t _read64(const unsigned char *p) noexcept nogil:
    """Eight bytes read as a little-endian number, whatever the machine's byte order (the
    compiler makes it one load where the machine is little-endian)."""
    return (<uint64_t>p[0] | <uint64_t>p[1] << 8 | <uint64_t>p[2] << 16 | <uint64_t>p[3] << 24
            | <uint64_t>p[4] << 32 | <uint64_t>p[5] << 40 | <uint64_t>p[6] << 48
            | <uint64_t>p[7] << 56)


cdef inline uint64_t _read32(const unsigned char *p) noexcept nogil:
    """Four bytes read as a little-endian number."""
    return <uint64_t>p[0] | <uint64_t>p[1] << 8 | <uint64_t>p[2] << 16 | <uint64_t>p[3] << 24


cdef inline uint64_t _round(uint64_t acc, uint64_t lane) noexcept nogil:
    return _rotl(acc + lane * _P2, 31) * _P1


cdef inline uint64_t _merge(uint64_t acc, uint64_t v) noexcept nogil:
    return (acc ^ _round(0, v)) * _P1 + _P4


cdef int64_t _xxh64(const unsigned char *p, Py_ssize_t size) noexcept nogil:
    """XXH64 of ``size`` bytes at ``p`` with seed 0, as a signed integer."""
    cdef const unsigned char *end = p + size
    cdef uint64_t acc, v1, v2, v3, v4
    if size >= 32:
        v1, v2, v3, v4 = _P1 + _P2, _P2, 0, -_P1
        while end - p >= 32:
            v1 = _round(v1, _read64(p))
            v2 = _round(v2, _read64(p + 8))
            v3 = _round(v3, _read64(p + 16))
            v4 = _round(v4, _read64(p + 24))
            p += 32
        acc = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        acc = _merge(_merge(_merge(_merge(acc, v1), v2), v3), v4)
    else:
        acc = _P5
    acc += <uint64_t>size
    while end - p >= 8:
        acc = _rotl(acc ^ _round(0, _read64(p)), 27) * _P1 + _P4
        p += 8
    if end - p >= 4:
        acc = _rotl(acc ^ (_read32(p) * _P1), 23) * _P2 + _P3
        p += 4
    while p < end:
        acc = _rotl(acc ^ (p[0] * _P5), 11) * _P1
        p += 1
    acc = (acc ^ (acc >> 33)) * _P2
    acc = (acc ^ (acc >> 29)) * _P3
    return <int64_t>(acc ^ (acc >> 32))


def xxh64_key(bytes data not None):
    """converter.seen.key_of's hash: ``xxhash.xxh64_intdigest(data)`` read as signed."""
    return _xxh64(data, len(data))


def duplicate_key(str instruction not None, str input not None):
    """converter.builtin.checks.duplicate_key of a source with these fields: the XXH64 key
    of its :func:`key_text` (converter.seen.key_of)."""
    return _duplicate_key(instruction, input)


cdef int64_t _duplicate_key(str instruction, str input) except? -1:
    cdef Py_ssize_t size = 0
    cdef char *out = _ascii_key_text(instruction, input, &size)
    if out != NULL:  # hashed from the buffer, no text made
        try:
            return _xxh64(<const unsigned char *>out, size)
        finally:
            free(out)
    # any other text: casefolded (character by character, so field by field), then its words
    # written as UTF-8 (surrogates as surrogatepass writes them) one space apart, and hashed
    cdef str first = instruction.casefold(), second = input.casefold()
    out = <char *>malloc(4 * (PyUnicode_GET_LENGTH(first) + PyUnicode_GET_LENGTH(second)) + 8)
    if not out:
        raise MemoryError()
    cdef bint gap = False
    try:
        size = _utf8_words(first, out, 0, &gap)
        gap = True  # the newline between the fields
        size = _utf8_words(second, out, size, &gap)
        return _xxh64(<const unsigned char *>out, size)
    finally:
        free(out)


cdef Py_ssize_t _utf8_words(str text, char *out, Py_ssize_t k, bint *gap) noexcept:
    """Append the words of ``text`` to ``out`` at ``k`` in UTF-8, one space before each but the
    first (``gap``: whitespace since the last word written); the new length."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef uint32_t c
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if Py_UNICODE_ISSPACE(c):
            gap[0] = True
            continue
        if gap[0] and k:
            out[k] = 0x20
            k += 1
        gap[0] = False
        if c < 0x80:
            out[k] = <char>c
            k += 1
        elif c < 0x800:
            out[k] = <char>(0xC0 | (c >> 6))
            out[k + 1] = <char>(0x80 | (c & 0x3F))
            k += 2
        elif c < 0x10000:
            out[k] = <char>(0xE0 | (c >> 12))
            out[k + 1] = <char>(0x80 | ((c >> 6) & 0x3F))
            out[k + 2] = <char>(0x80 | (c & 0x3F))
            k += 3
        else:
            out[k] = <char>(0xF0 | (c >> 18))
            out[k + 1] = <char>(0x80 | ((c >> 12) & 0x3F))
            out[k + 2] = <char>(0x80 | ((c >> 6) & 0x3F))
            out[k + 3] = <char>(0x80 | (c & 0x3F))
            k += 4
    return k


def misalignment_findings(list group):
    """converter.builtin.checks.compare_misalignment: the shift marks the aligner set on the
    group's records."""
    return _misalignment(group) or []


cdef list _misalignment(list group):
    cdef list found = None
    cdef object features
    for record in group:
        features = _field(record, FEATURES)
        if features and "misalignment" in features:
            if found is None:
                found = []
            found.append(features["misalignment"])
    return found


ctypedef struct _Pending:  # a slot of a _KeyTable
    int64_t key
    int64_t value  # -1: the slot is free (values are group indexes)


ctypedef struct _KeyTable:  # keys and their values, open addressing with linear probing
    _Pending *slots
    uint64_t size  # a power of two, at least twice the keys it is filled with
    Py_ssize_t count


cdef int _table_init(_KeyTable *table, Py_ssize_t keys) except -1:
    """Make ``table`` empty, with room for ``keys`` keys."""
    table.size = 16
    while table.size < 2 * <uint64_t>keys:
        table.size *= 2
    table.slots = <_Pending *>malloc(table.size * sizeof(_Pending))
    if not table.slots:
        raise MemoryError()
    _table_clear(table)
    return 0


cdef void _table_clear(_KeyTable *table) noexcept:
    cdef uint64_t i
    for i in range(table.size):
        table.slots[i].value = -1
    table.count = 0


cdef inline uint64_t _table_home(_KeyTable *table, int64_t key) noexcept:
    """Where the probe for ``key`` starts."""
    return ((<uint64_t>key * 0x9E3779B97F4A7C15ULL) >> 32) & (table.size - 1)


cdef inline _Pending *_table_slot(_KeyTable *table, int64_t key) noexcept:
    """The slot holding ``key``, or the free slot where it goes."""
    cdef uint64_t i = _table_home(table, key)
    cdef _Pending *slot
    while True:
        slot = &table.slots[i & (table.size - 1)]
        if slot.value < 0 or slot.key == key:
            return slot
        i += 1


cdef class Duplicates:
    """converter.builtin.checks' duplicate compare with converter.seen.SeenSet.first_seen in it
    (its filter, its batch of pending keys and spill; the rare lookup in the runs and the spill
    call the set's own methods): the same findings, the same runs written. The set's ``bits``,
    ``mask`` and ``batch`` are read once, here. The pending keys are kept here, in a table of C
    integers (a Python dict of int objects misses the cache two or three times a key), and
    handed to the set's ``pending`` dict only to be spilled; so are the keys found in the runs
    (the set's ``hot`` dict, kept here: up to a batch of them, then cleared)."""

    cdef object seen, finding
    cdef bytearray bits
    cdef long long mask
    cdef Py_ssize_t batch
    cdef _KeyTable pending, hot

    def __init__(self, seen, finding):
        """``seen``: the run's SeenSet; ``finding(lang, earlier)``: the finding's text."""
        if self.pending.slots != NULL:
            raise TypeError("a duplicate compare is set up once")
        self.seen, self.finding = seen, finding
        self.bits, self.mask, self.batch = seen.bits, seen.mask, seen.batch
        if not 1 <= self.batch <= (1 << 32) or seen.pending:
            raise ValueError("the seen-set needs a batch of 1 to 2**32 keys and nothing pending")
        _table_init(&self.pending, self.batch)
        _table_init(&self.hot, self.batch)

    def __dealloc__(self):
        free(self.pending.slots)
        free(self.hot.slots)

    def __call__(self, list group):
        """The finding of ``group`` when its source was seen before (and remember it)."""
        return self._find(group, self._key(group)) or []

    cdef int64_t _key(self, list group) except? -1:
        """The key of ``group``'s source, its line of the filter fetched into the cache ahead
        of :meth:`_find` (the filter is larger than the cache: the check step does other work
        while the line comes)."""
        source = group[0]
        cdef int64_t key = _duplicate_key(_text(source, INSTRUCTION), _text(source, INPUT))
        cdef const unsigned char *data = self.bits
        __builtin_prefetch(data + ((key & self.mask & ~_LINE_MASK) >> 3))
        __builtin_prefetch(&self.pending.slots[_table_home(&self.pending, key)])
        return key

    cdef list _find(self, list group, int64_t key):
        """The finding of ``group`` (its source's key: :meth:`_key`), None when there is
        none."""
        earlier = self._earlier(group, key)
        return None if earlier is None else [self.finding(_field(group[0], LANG), earlier)]

    cdef object _earlier(self, list group, int64_t key):
        """The index where ``group``'s source (its key: :meth:`_key`) was first seen, None when
        it is new (and now remembered)."""
        return self._first_seen(key, _field(group[0], INDEX))

    def replay(self, bytes pairs not None, Py_ssize_t examples):
        """converter.scale.tail's duplicate check over one block of a part's keys (``(index,
        key)`` pairs of native int64, in order; each remembered): how many were seen before,
        and the first ``examples`` of those as ``(index, earlier)``."""
        if len(pairs) % 16:
            raise ValueError("a block of keys holds whole (index, key) pairs of 16 bytes")
        cdef Py_ssize_t i, n = len(pairs) // 16, count = 0
        cdef int64_t pair[2]
        cdef const char *data = pairs
        cdef list firsts = []
        for i in range(n):
            memcpy(pair, data + 16 * i, 16)
            earlier = self._first_seen(pair[1], pair[0])
            if earlier is not None:
                count += 1
                if len(firsts) < examples:
                    firsts.append((pair[0], earlier))
        return count, firsts

    cdef object _first_seen(self, int64_t key, object index):
        """converter.seen.SeenSet.first_seen for a group ``index`` (an int, 0 or more): the
        value stored with ``key`` before, None when it is new (and now stored with ``index``)."""
        if type(index) is not int or index < 0:
            raise ValueError(f"a group index is an int, 0 or more, not {index!r}")
        cdef int64_t value = index
        cdef _Pending *slot
        if bloom_add(self.bits, self.mask, key):
            slot = _table_slot(&self.pending, key)
            if slot.value >= 0:
                return slot.value
            slot = _table_slot(&self.hot, key)
            if slot.value >= 0:
                return slot.value
            earlier = self.seen._in_runs(key)
            if earlier is not None:
                if self.hot.count >= self.batch:  # keys seen again tend to come back
                    _table_clear(&self.hot)
                slot = _table_slot(&self.hot, key)
                slot.key, slot.value = key, earlier
                self.hot.count += 1
                return earlier
        if self.pending.count >= self.pending.size - 1:  # a spill failed (and was caught)
            raise RuntimeError("the duplicate check's pending keys could not be spilled")
        slot = _table_slot(&self.pending, key)
        slot.key, slot.value = key, value
        self.pending.count += 1
        if self.pending.count >= self.batch:
            self._spill()
        return None

    cdef int _spill(self) except -1:
        """Hand the pending keys to the set and let it write them out as a run."""
        cdef dict pending = self.seen.pending
        cdef uint64_t i
        for i in range(self.pending.size):
            if self.pending.slots[i].value >= 0:
                pending[self.pending.slots[i].key] = self.pending.slots[i].value
        self.seen._spill()
        _table_clear(&self.pending)
        return 0


cdef enum Compare:
    OTHER, LENGTH_RATIOS, DUPLICATES, MISALIGNMENT


cdef class CheckStep:
    """converter.screening.check_step: the compares of a run's checks on a group, each but
    those the screen clears; the built-in kernels called directly. ``step(group)`` is None when
    no check found anything, else ``[(position in compares, findings), ...]``.

    A warn-only compare with a tally (its converter.report.CheckStats) is counted here once
    the tally holds all its examples: its group is left out of the result (no finding text is
    made for a duplicate then) and counted in C; :meth:`settle` adds the counts to the tallies'
    ``warned``."""

    cdef list compares, tallies
    cdef GroupScreen screen
    cdef Py_ssize_t count, examples, duplicates
    cdef int *bits
    cdef Compare *kinds
    cdef bint *full
    cdef long long *warned

    def __init__(self, list compares, list bits, GroupScreen screen, list tallies=None,
                 Py_ssize_t examples=0):
        """``compares``: the checks' compares, in order; ``bits``: each one's screen bit (0:
        always called); ``screen``: the run's GroupScreen, or None; ``tallies``: per compare,
        the stats that count its warnings (None: its findings are always returned), full at
        ``examples`` examples."""
        cdef Py_ssize_t k, n = len(compares)
        if len(bits) != n or (tallies is not None and len(tallies) != n):
            raise ValueError("one screen bit (and tally) per compare")
        self.compares, self.screen, self.count = compares, screen, n
        self.tallies, self.examples = tallies, examples
        self.bits = <int *>calloc(n + 1, sizeof(int))
        self.kinds = <Compare *>calloc(n + 1, sizeof(Compare))
        self.full = <bint *>calloc(n + 1, sizeof(bint))
        self.warned = <long long *>calloc(n + 1, sizeof(long long))
        if not (self.bits and self.kinds and self.full and self.warned):
            raise MemoryError()
        self.duplicates = -1  # the position of the (first) duplicate compare
        for k in range(n):
            compare = compares[k]
            self.bits[k] = bits[k] if screen is not None else 0
            self.kinds[k] = (LENGTH_RATIOS if type(compare) is LengthRatios
                             else DUPLICATES if type(compare) is Duplicates
                             else MISALIGNMENT if compare is misalignment_findings else OTHER)
            if self.kinds[k] == DUPLICATES and self.duplicates < 0:
                self.duplicates = k

    def __dealloc__(self):
        free(self.bits)
        free(self.kinds)
        free(self.full)
        free(self.warned)

    def settle(self):
        """Add the warnings counted here to their tallies (at the end of a run)."""
        cdef Py_ssize_t k
        for k in range(self.count):
            if self.warned[k]:
                tally = self.tallies[k]
                tally.warned += self.warned[k]
                self.warned[k] = 0

    cdef bint _quiet(self, Py_ssize_t k) except -1:
        """Whether compare ``k``'s warnings are counted here now."""
        if self.full[k]:
            return True
        if self.tallies is None:
            return False
        tally = self.tallies[k]
        if tally is None or len(tally.examples) < self.examples:
            return False
        self.full[k] = True
        return True

    def __call__(self, list group):
        """The findings of ``group``, by compare; None when there are none."""
        cdef int64_t key = 0
        if self.duplicates >= 0:  # first: its filter line is fetched while the screen runs
            key = (<Duplicates>self.compares[self.duplicates])._key(group)
        cdef int maybe = -1 if self.screen is None else self.screen.screen(group)
        cdef Py_ssize_t k
        cdef list found = None, findings
        cdef bint quiet
        cdef Duplicates duplicates
        for k in range(self.count):
            if self.bits[k] and not maybe & self.bits[k]:
                continue
            kind = self.kinds[k]
            quiet = self._quiet(k)
            if kind == LENGTH_RATIOS:
                findings = (<LengthRatios>self.compares[k])._find(group)
            elif kind == DUPLICATES:
                duplicates = <Duplicates>self.compares[k]
                if k != self.duplicates:
                    key = duplicates._key(group)
                if quiet:
                    self.warned[k] += duplicates._earlier(group, key) is not None
                    continue
                findings = duplicates._find(group, key)
            elif kind == MISALIGNMENT:
                findings = _misalignment(group)
            else:
                findings = self.compares[k](group)
            if findings:
                if quiet:
                    self.warned[k] += 1
                    continue
                if found is None:
                    found = []
                found.append((k, findings))
        return found
