/*
 * opsdesk.monitoring._pushscan: a host agent's `columns` push, checked and turned into the
 * metric store's remote-write request without a Python object per sample.
 *
 * Why C: with VictoriaMetrics as the metric store, a push's own CPU is taken from the store on the
 * same machine, and the goal (through opsdesk at 80 % of the store's direct rate) leaves a
 * 1,000-sample batch about 150 µs of work in all. Parsing the body with orjson alone costs 136 µs
 * there, checking its 100 series in Python another 100, writing what the store takes 76
 * (docs/performance.md, rounds ten and eleven). msgspec and python-rapidjson's schema validator
 * were measured and are slower than orjson for this (700 and 900 µs). This module reads the body
 * once, byte by byte, and makes no Python object per sample.
 *
 * It is an accelerator, never the only way: `scan` answers None for any body it is not sure of
 * (an escape in a string, a non-ASCII byte, a number orjson would read as an integer beyond 64 bits,
 * duplicate keys, no columns...), and the push then goes the Python way (ingest.checked_columns),
 * which accepts or names the problem as ever. A body it answers for is one the Python checks
 * accept: the package's tests compare the two ways on good and bad bodies. Built with the package
 * where a C compiler is present (setup.py: optional); without it, every push goes the Python way.
 *
 * scan(body: bytes) -> (seq, samples, layout, columns) | None
 *   layout: the text of each series' name and labels, in order (a batch's series are known by it);
 *   columns: where each series' times and values are in the body (for `write_request`).
 * packed(body, columns, seq) -> bytes | None
 *   the row the batch is queued as where the metric store is SQL, as ingest.packed writes it (its
 *   head names the sequence number and each series' name, labels and count); None for times out
 *   of order (the Python way sorts them).
 * write_request(body, columns, heads) -> (block, newest_times, newest_values) | None
 *   heads: each series' labels as remote write encodes them, as forwarding.py keeps them; block:
 *   the WriteRequest, a TimeSeries a series, as forwarding.write_request writes it (its samples as
 *   victoria.encode_samples writes them: times as whole milliseconds, rounded half up), stored in
 *   a snappy block without compression (victoria.snappy_stored: on 127.0.0.1 compressing cost the
 *   web process more than the store saved reading fewer bytes); newest_*: each series' sample with
 *   the greatest time (the first such). None when a time is beyond what a millisecond count of
 *   2^53 holds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_SAMPLES 10000
#define MAX_LABELS 32
#define MAX_NAME 200
#define MAX_LABEL_VALUE 200
#define MAX_INT_DIGITS 18          /* orjson reads at most 64-bit integers; beyond, Python's way */
#define MAX_PLAIN_DIGITS 300       /* a number without exponent and fewer digits is finite */
#define MAX_MILLIS 9007199254740992.0  /* 2^53 */

typedef struct {
    Py_ssize_t layout_start, layout_end;  /* the text of its name and labels */
    Py_ssize_t times_start, times_end;    /* the text between the brackets */
    Py_ssize_t values_start, values_end;
    Py_ssize_t count;
} Column;

typedef struct {
    const char *start, *p, *end;
} Reader;

static inline void skip_ws(Reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

static inline int expect(Reader *r, char c) {
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

/* After an item of an array or object: 1 for a comma (another item follows), 2 for the closing
 * bracket (taken), 0 for anything else. */
static inline int after_item(Reader *r, char closer) {
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
        r->p++;
        return 1;
    }
    if (r->p < r->end && *r->p == closer) {
        r->p++;
        return 2;
    }
    return 0;
}

/* A string of printable ASCII without escapes; sets its text (without quotes). 0 otherwise. */
static int read_string(Reader *r, const char **text, Py_ssize_t *len) {
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') return 0;
    const char *s = ++r->p;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            *text = s;
            *len = r->p - s;
            r->p++;
            return 1;
        }
        if (c == '\\' || c < 0x20 || c >= 0x7f) return 0;
        r->p++;
    }
    return 0;
}

static inline int name_ok(const char *s, Py_ssize_t n) {
    if (n < 1 || n > MAX_NAME) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

/* A JSON number that Python's checks take as a finite number. 0 otherwise. */
static int read_number(Reader *r) {
    skip_ws(r);
    const char *p = r->p, *end = r->end, *start = r->p;
    int digits = 0, fraction = 0, exponent = 0;
    if (p < end && *p == '-') p++;
    if (p >= end) return 0;
    if (*p == '0') {
        p++;
        digits = 1;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        const char *f = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == f) return 0;
        fraction = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const char *e = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == e) return 0;
        exponent = 1;
    }
    if (!fraction && !exponent) {
        if (digits > MAX_INT_DIGITS) return 0;
    } else if (exponent || digits > MAX_PLAIN_DIGITS) {
        /* the body is a bytes object: NUL-terminated, so the conversion stops at its end */
        char *stop = NULL;
        double value = PyOS_string_to_double(start, &stop, NULL);
        if (value == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (!isfinite(value) || stop != p) return 0;
    }
    r->p = p;
    return 1;
}

/* A non-empty array of numbers; sets its text between the brackets and its length. */
static int read_numbers(Reader *r, Py_ssize_t *start, Py_ssize_t *end, Py_ssize_t *count) {
    if (!expect(r, '[')) return 0;
    *start = r->p - r->start;
    Py_ssize_t n = 0;
    for (;;) {
        if (!read_number(r)) return 0;
        n++;
        if (n > MAX_SAMPLES) return 0;
        skip_ws(r);
        *end = r->p - r->start;
        int next = after_item(r, ']');
        if (next != 1) {
            *count = n;
            return next == 2;
        }
    }
}

/* A labels object: at most MAX_LABELS names (checked, not repeated) with short string values. */
static int read_labels(Reader *r) {
    const char *keys[MAX_LABELS];
    Py_ssize_t key_lens[MAX_LABELS];
    int n = 0;
    if (!expect(r, '{')) return 0;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 1;
    }
    for (;;) {
        const char *key, *value;
        Py_ssize_t key_len, value_len;
        if (n == MAX_LABELS) return 0;
        if (!read_string(r, &key, &key_len) || !name_ok(key, key_len)) return 0;
        for (int i = 0; i < n; i++) {
            if (key_lens[i] == key_len && memcmp(keys[i], key, key_len) == 0) return 0;
        }
        keys[n] = key;
        key_lens[n] = key_len;
        n++;
        if (!expect(r, ':')) return 0;
        if (!read_string(r, &value, &value_len) || value_len > MAX_LABEL_VALUE) return 0;
        int next = after_item(r, '}');
        if (next != 1) return next == 2;
    }
}

/* A checked JSON number's double, as Python reads it (float(text), or float(int(text)) for an
 * integer: -0 is 0.0). Clinger's fast path where it is exact (at most 2^53 as the digits' integer,
 * a power of ten up to 22: one IEEE multiplication or division, correctly rounded); Python's own
 * conversion otherwise. Sets *end after the number. */
static const double POWERS[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int to_double(const char *p, const char **end, double *out) {
    const char *start = p;
    int negative = 0, digits = 0, integer = 1, dropped = 0;  /* digits: significant ones kept */
    uint64_t mantissa = 0;
    long exponent = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    while (*p >= '0' && *p <= '9') {
        if (digits < 19) {
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            if (mantissa) digits++;
        } else {
            exponent++;
            dropped = 1;
        }
        p++;
    }
    if (*p == '.') {
        integer = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                exponent--;
                if (mantissa) digits++;
            } else if (*p != '0') {
                dropped = 1;
            }
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        integer = 0;
        p++;
        int minus = 0;
        long e = 0;
        if (*p == '+' || *p == '-') minus = *p++ == '-';
        while (*p >= '0' && *p <= '9') {
            if (e < 100000) e = e * 10 + (*p - '0');
            p++;
        }
        exponent += minus ? -e : e;
    }
    *end = p;
    if (integer && !dropped) {  /* orjson's integer: its double, and no negative zero */
        double value = (double)mantissa;
        *out = negative && mantissa ? -value : value;
        return 1;
    }
    if (!dropped && mantissa <= (1ULL << 53) && exponent >= -22 && exponent <= 22) {
        double value = (double)mantissa;
        value = exponent < 0 ? value / POWERS[-exponent] : value * POWERS[exponent];
        *out = negative ? -value : value;
        return 1;
    }
    char *stop = NULL;
    double value = PyOS_string_to_double(start, &stop, NULL);
    if (value == -1.0 && PyErr_Occurred()) return 0;
    *out = value;
    return 1;
}

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buffer;

/* Room for `len` more bytes; 0 when out of memory. */
static int buffer_reserve(Buffer *b, Py_ssize_t len) {
    if (b->len + len > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len) cap *= 2;
        char *grown = PyMem_Realloc(b->data, cap);
        if (grown == NULL) return 0;
        b->data = grown;
        b->cap = cap;
    }
    return 1;
}

static int buffer_add(Buffer *b, const char *data, Py_ssize_t len) {
    if (!buffer_reserve(b, len)) return 0;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 1;
}

/* The `columns` array: each series' layout text into `layout`, its numbers' places into `cols`. */
static int read_columns(Reader *r, Buffer *layout, Buffer *cols, Py_ssize_t *samples) {
    if (!expect(r, '[')) return 0;
    Py_ssize_t total = 0, count = 0;
    for (;;) {
        Column column;
        const char *name;
        Py_ssize_t name_len;
        if (!expect(r, '[')) return 0;
        skip_ws(r);
        const char *layout_start = r->p;
        if (!read_string(r, &name, &name_len) || !name_ok(name, name_len)) return 0;
        if (!expect(r, ',') || !read_labels(r)) return 0;
        if ((count > 0 && !buffer_add(layout, "\n", 1)) ||
            !buffer_add(layout, layout_start, r->p - layout_start)) return -1;
        column.layout_start = layout_start - r->start;
        column.layout_end = r->p - r->start;
        Py_ssize_t values_count;
        if (!expect(r, ',') ||
            !read_numbers(r, &column.times_start, &column.times_end, &column.count) ||
            !expect(r, ',') ||
            !read_numbers(r, &column.values_start, &column.values_end, &values_count) ||
            values_count != column.count || !expect(r, ']')) return 0;
        total += column.count;
        count++;
        if (total > MAX_SAMPLES) return 0;
        if (!buffer_add(cols, (const char *)&column, sizeof column)) return -1;
        int next = after_item(r, ']');
        if (next != 1) {
            *samples = total;
            return next == 2;
        }
    }
}

/* seq: a whole number from 1 to 2^63-1, written as an integer. */
static int read_seq(Reader *r, long long *seq) {
    skip_ws(r);
    const char *p = r->p;
    unsigned long long value = 0;
    int digits = 0;
    if (p >= r->end || *p < '1' || *p > '9') return 0;
    while (p < r->end && *p >= '0' && *p <= '9') {
        if (++digits > 19) return 0;
        unsigned long long next = value * 10 + (unsigned long long)(*p - '0');
        if (next < value || next > (unsigned long long)INT64_MAX) return 0;
        value = next;
        p++;
    }
    if (p < r->end && (*p == '.' || *p == 'e' || *p == 'E')) return 0;
    r->p = p;
    *seq = (long long)value;
    return 1;
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "scan() takes bytes");
        return NULL;
    }
    Reader r = {PyBytes_AS_STRING(arg), PyBytes_AS_STRING(arg), PyBytes_AS_STRING(arg) + PyBytes_GET_SIZE(arg)};
    Buffer layout = {NULL, 0, 0}, cols = {NULL, 0, 0};
    long long seq = 0;
    Py_ssize_t samples = 0;
    int have_seq = 0, have_sent_at = 0, have_columns = 0, ok = 0;
    if (!expect(&r, '{')) goto done;
    for (;;) {
        const char *key;
        Py_ssize_t key_len;
        if (!read_string(&r, &key, &key_len) || !expect(&r, ':')) goto done;
        if (key_len == 3 && memcmp(key, "seq", 3) == 0 && !have_seq) {
            if (!read_seq(&r, &seq)) goto done;
            have_seq = 1;
        } else if (key_len == 7 && memcmp(key, "sent_at", 7) == 0 && !have_sent_at) {
            if (!read_number(&r)) goto done;
            have_sent_at = 1;
        } else if (key_len == 7 && memcmp(key, "columns", 7) == 0 && !have_columns) {
            int read = read_columns(&r, &layout, &cols, &samples);
            if (read < 0) {
                ok = -1;
                goto done;
            }
            if (!read) goto done;
            have_columns = 1;
        } else {
            goto done;
        }
        int next = after_item(&r, '}');
        if (next == 0) goto done;
        if (next == 2) break;
    }
    skip_ws(&r);
    ok = r.p == r.end && have_seq && have_columns;
done:;
    PyObject *answer = NULL;
    if (ok == 1) {
        answer = Py_BuildValue("(Lny#y#)", seq, samples, layout.data, layout.len, cols.data, cols.len);
    } else if (ok == 0) {
        answer = Py_NewRef(Py_None);
    } else {
        PyErr_NoMemory();
    }
    PyMem_Free(layout.data);
    PyMem_Free(cols.data);
    return answer;
}

/* Where the number at `index` starts in an array's text (only numbers and separators in it). */
static const char *nth_number(const char *p, const char *end, Py_ssize_t index) {
    while (index > 0 && p < end) {
        if (*p == ',') index--;
        p++;
    }
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* The numbers of an array's text as doubles; 0 on a conversion error (raised). */
static int read_doubles(const char *p, Py_ssize_t count, double *out) {
    for (Py_ssize_t k = 0; k < count; k++) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ',') p++;
        if (!to_double(p, &p, &out[k])) return 0;
    }
    return 1;
}

/* --- remote write ------------------------------------------------------------------------- */

static inline int put_varint(char *w, uint64_t n) {
    int i = 0;
    while (n > 0x7F) {
        w[i++] = (char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    w[i++] = (char)n;
    return i;
}

static inline void put_double(char *w, double value) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    for (int j = 0; j < 8; j++) w[j] = (char)(bits >> (8 * j));  /* little-endian, as protobuf */
}

static inline int six_bytes(int64_t ms) { return ms >= (1LL << 35) && ms < (1LL << 42); }

/* A Sample as victoria.encode_samples writes it: where all the series' time stamps are in
 * [2^35, 2^42) milliseconds (`fast`: 6-byte varints), the time stamp first, then the value;
 * otherwise the value first. */
static inline int put_sample(char *w, int64_t ms, double value, int fast) {
    if (fast) {
        w[0] = 0x12;
        w[1] = 0x10;
        w[2] = 0x10;
        put_varint(w + 3, (uint64_t)ms);
        w[9] = 0x09;
        put_double(w + 10, value);
        return 18;
    }
    char sample[24];
    sample[0] = 0x09;
    put_double(sample + 1, value);
    sample[9] = 0x10;
    int len = 10 + put_varint(sample + 10, (uint64_t)ms);  /* a negative one as ten bytes */
    w[0] = 0x12;
    w[1] = (char)len;
    memcpy(w + 2, sample, len);
    return 2 + len;
}

static inline int sample_len(int64_t ms, int fast) {
    if (fast) return 18;
    uint64_t n = (uint64_t)ms;
    int len = 1;
    while (n > 0x7F) {
        n >>= 7;
        len++;
    }
    return 12 + len;  /* 0x12, its length, 0x09 and the double, 0x10 and the varint */
}

#define SNAPPY_HEAD 10  /* a varint of up to 2^32, a literal's tag and four bytes of length */

static PyObject *write_request(PyObject *self, PyObject *args) {
    PyObject *body, *blob, *heads;
    if (!PyArg_ParseTuple(args, "SSO!:write_request", &body, &blob, &PyList_Type, &heads)) return NULL;
    Py_ssize_t n = PyBytes_GET_SIZE(blob) / (Py_ssize_t)sizeof(Column);
    if (PyBytes_GET_SIZE(blob) % (Py_ssize_t)sizeof(Column) != 0 || PyList_GET_SIZE(heads) != n || n == 0) {
        PyErr_SetString(PyExc_ValueError, "write_request(): the columns and heads do not match");
        return NULL;
    }
    const char *text = PyBytes_AS_STRING(body);
    Py_ssize_t text_len = PyBytes_GET_SIZE(body);
    Column *columns = PyMem_Malloc(n * sizeof(Column));
    int64_t *millis = PyMem_Malloc(MAX_SAMPLES * sizeof(int64_t));
    double *values = PyMem_Malloc(MAX_SAMPLES * sizeof(double));
    if (columns == NULL || millis == NULL || values == NULL) {
        PyMem_Free(columns);
        PyMem_Free(millis);
        PyMem_Free(values);
        return PyErr_NoMemory();
    }
    memcpy(columns, PyBytes_AS_STRING(blob), n * sizeof(Column));
    Buffer out = {NULL, 0, 0};
    PyObject *answer = NULL, *newest_times = PyList_New(n), *newest_values = PyList_New(n);
    if (newest_times == NULL || newest_values == NULL) goto fail;
    if (!buffer_reserve(&out, SNAPPY_HEAD)) {
        PyErr_NoMemory();
        goto fail;
    }
    out.len = SNAPPY_HEAD;
    /* `shared`: the column whose times were read last (their milliseconds are in `millis`), the
     * place and time of its newest sample */
    Py_ssize_t shared = -1, shared_newest = 0;
    double shared_time = 0;
    int fast = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Column *c = &columns[i];
        PyObject *head = PyList_GET_ITEM(heads, i);
        if (!PyBytes_Check(head) || c->times_start < 0 || c->times_end > text_len || c->values_start < 0 ||
            c->values_end > text_len || c->times_start > c->times_end || c->values_start > c->values_end ||
            c->count < 1 || c->count > MAX_SAMPLES) {
            PyErr_SetString(PyExc_ValueError,
                            "write_request(): a head is not bytes, or the columns are not the body's");
            goto fail;
        }
        Py_ssize_t times_len = c->times_end - c->times_start;
        Column *p = shared >= 0 ? &columns[shared] : NULL;
        if (p == NULL || p->times_end - p->times_start != times_len ||
            memcmp(text + p->times_start, text + c->times_start, times_len) != 0) {
            const char *q = text + c->times_start;
            fast = 1;
            for (Py_ssize_t k = 0; k < c->count; k++) {
                double t;
                while (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t' || *q == ',') q++;
                if (!to_double(q, &q, &t)) goto fail;
                double ms = floor(0.5 + 1000.0 * t);
                if (!(fabs(ms) < MAX_MILLIS)) {  /* the Python way takes these */
                    answer = Py_NewRef(Py_None);
                    goto fail;
                }
                if (k == 0 || t > shared_time) {  /* the first of the greatest, as list.index(max()) */
                    shared_time = t;
                    shared_newest = k;
                }
                millis[k] = (int64_t)ms;
                fast &= six_bytes(millis[k]);
            }
            shared = i;
        }
        if (!read_doubles(text + c->values_start, c->count, values)) goto fail;
        PyObject *t = PyFloat_FromDouble(shared_time), *v = PyFloat_FromDouble(values[shared_newest]);
        if (t == NULL || v == NULL) {
            Py_XDECREF(t);
            Py_XDECREF(v);
            goto fail;
        }
        PyList_SET_ITEM(newest_times, i, t);
        PyList_SET_ITEM(newest_values, i, v);
        /* TimeSeries: field 1 of WriteRequest; its labels (the head), then its samples */
        Py_ssize_t head_len = PyBytes_GET_SIZE(head), series_len = head_len;
        for (Py_ssize_t k = 0; k < c->count; k++) series_len += sample_len(millis[k], fast);
        char prefix[11];
        prefix[0] = 0x0a;
        int prefix_len = 1 + put_varint(prefix + 1, (uint64_t)series_len);
        if (!buffer_add(&out, prefix, prefix_len) || !buffer_add(&out, PyBytes_AS_STRING(head), head_len) ||
            !buffer_reserve(&out, series_len - head_len)) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t k = 0; k < c->count; k++) out.len += put_sample(out.data + out.len, millis[k], values[k], fast);
    }
    /* A snappy block of one literal (victoria.snappy_stored): the length as a varint, the
     * literal's tag (62 << 2: three bytes of length - 1 follow; 63 << 2: four) and length, then
     * the bytes, written just before the request */
    Py_ssize_t length = out.len - SNAPPY_HEAD;
    if (length > 0xFFFFFFFFLL) {
        PyErr_SetString(PyExc_ValueError, "write_request(): over 4 GB");
        goto fail;
    }
    char head[SNAPPY_HEAD];
    int head_len = put_varint(head, (uint64_t)length), bytes = length <= (1 << 24) ? 3 : 4;
    head[head_len++] = (char)((bytes == 3 ? 62 : 63) << 2);
    for (int j = 0; j < bytes; j++) head[head_len++] = (char)(((uint64_t)(length - 1) >> (8 * j)) & 0xFF);
    memcpy(out.data + SNAPPY_HEAD - head_len, head, head_len);
    PyObject *request = PyBytes_FromStringAndSize(out.data + SNAPPY_HEAD - head_len, length + head_len);
    if (request == NULL) goto fail;
    answer = Py_BuildValue("(NNN)", request, newest_times, newest_values);
    newest_times = newest_values = NULL;
fail:
    Py_XDECREF(newest_times);
    Py_XDECREF(newest_values);
    PyMem_Free(columns);
    PyMem_Free(millis);
    PyMem_Free(values);
    PyMem_Free(out.data);
    return answer;
}

static PyObject *packed(PyObject *self, PyObject *args) {
    PyObject *body, *blob;
    long long seq;
    if (!PyArg_ParseTuple(args, "SSL:packed", &body, &blob, &seq)) return NULL;
#if PY_BIG_ENDIAN
    Py_RETURN_NONE;  /* the stored doubles are little-endian: Python's way packs them */
#endif
    Py_ssize_t n = PyBytes_GET_SIZE(blob) / (Py_ssize_t)sizeof(Column);
    const char *text = PyBytes_AS_STRING(body);
    Py_ssize_t text_len = PyBytes_GET_SIZE(body);
    if (PyBytes_GET_SIZE(blob) % (Py_ssize_t)sizeof(Column) != 0 || n == 0) {
        PyErr_SetString(PyExc_ValueError, "packed(): the columns are not a scan's");
        return NULL;
    }
    Column *columns = PyMem_Malloc(n * sizeof(Column));
    if (columns == NULL) return PyErr_NoMemory();
    memcpy(columns, PyBytes_AS_STRING(blob), n * sizeof(Column));
    Buffer head = {NULL, 0, 0}, numbers = {NULL, 0, 0};
    double *times = NULL, *previous = NULL, *values = NULL;
    Py_ssize_t previous_count = -1, most = 0;
    PyObject *answer = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Column *c = &columns[i];
        if (c->layout_start < 0 || c->layout_end > text_len || c->times_start < 0 || c->times_end > text_len ||
            c->values_start < 0 || c->values_end > text_len || c->count < 1) {
            PyErr_SetString(PyExc_ValueError, "packed(): the columns are not the body's");
            goto done;
        }
        if (c->count > most) most = c->count;
    }
    times = PyMem_Malloc(most * sizeof(double));
    previous = PyMem_Malloc(most * sizeof(double));
    values = PyMem_Malloc(most * sizeof(double));
    if (times == NULL || previous == NULL || values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    char start[48];
    int len = snprintf(start, sizeof start, "{\"seq\":%lld,\"series\":[", seq);
    if (!buffer_add(&head, start, len)) goto nomemory;
    for (Py_ssize_t i = 0; i < n; i++) {
        Column *c = &columns[i];
        if (!read_doubles(text + c->times_start, c->count, times) ||
            !read_doubles(text + c->values_start, c->count, values)) goto done;
        for (Py_ssize_t k = 1; k < c->count; k++) {
            if (times[k] < times[k - 1]) {  /* out of order: Python's way sorts them */
                answer = Py_NewRef(Py_None);
                goto done;
            }
        }
        /* the times of the series before are not stored again (ingest.packed's fourth field) */
        int shared = previous_count == c->count && memcmp(previous, times, c->count * sizeof(double)) == 0;
        char entry[48];
        if ((i > 0 && !buffer_add(&head, ",", 1)) || !buffer_add(&head, "[", 1) ||
            !buffer_add(&head, text + c->layout_start, c->layout_end - c->layout_start)) goto nomemory;
        len = snprintf(entry, sizeof entry, shared ? ",%zd,1]" : ",%zd]", c->count);
        if (!buffer_add(&head, entry, len)) goto nomemory;
        if (!shared) {
            if (!buffer_add(&numbers, (const char *)times, c->count * sizeof(double))) goto nomemory;
            double *swap = previous;
            previous = times;
            times = swap;
            previous_count = c->count;
        }
        if (!buffer_add(&numbers, (const char *)values, c->count * sizeof(double))) goto nomemory;
    }
    if (!buffer_add(&head, "]}", 2)) goto nomemory;
    if (head.len > 0xFFFFFFFF) {
        answer = Py_NewRef(Py_None);
        goto done;
    }
    answer = PyBytes_FromStringAndSize(NULL, 1 + 4 + head.len + numbers.len);
    if (answer != NULL) {
        char *w = PyBytes_AS_STRING(answer);
        uint32_t size = (uint32_t)head.len;
        w[0] = 2;  /* ingest.PACKED */
        w[1] = (char)(size & 0xFF);
        w[2] = (char)((size >> 8) & 0xFF);
        w[3] = (char)((size >> 16) & 0xFF);
        w[4] = (char)((size >> 24) & 0xFF);
        memcpy(w + 5, head.data, head.len);
        memcpy(w + 5 + head.len, numbers.data, numbers.len);
    }
    goto done;
nomemory:
    PyErr_NoMemory();
done:
    PyMem_Free(columns);
    PyMem_Free(times);
    PyMem_Free(previous);
    PyMem_Free(values);
    PyMem_Free(head.data);
    PyMem_Free(numbers.data);
    return answer;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "A columns push checked: (seq, samples, layout, columns), or None."},
    {"write_request", write_request, METH_VARARGS, "The remote-write request of scanned columns as a snappy block "
                                                   "(stored): (block, newest_times, newest_values), or None."},
    {"packed", packed, METH_VARARGS, "The row a scanned columns push is queued as (ingest.packed's form), or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pushscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pushscan(void) { return PyModule_Create(&module); }
