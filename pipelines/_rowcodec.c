/*
 * pipelines._rowcodec: the ingest's row encoder, compiled.
 *
 * The same work as pipelines.ingest_rows.PyRowEncoder.add (its reference, in Python): one
 * report's fields become one row of pantau.reports in PostgreSQL's binary COPY format, with
 * its point as EWKB, its res-12 H3 cell, the batch and its owner when the interior lookup
 * knows it; rows without an owner go to a second buffer, their points to a third. It exists
 * because that work cost 2.7 us of the 7.4 us a JAKI row takes in a worker in Python (psycopg's
 * C row encoder 0.85 of it, the rest bookkeeping around it), and the ingest is CPU-bound.
 *
 * The layout is not repeated here: the report fields' kinds (text or timestamptz), the
 * squares' constants and the H3 function come from Python at construction, once (an encoder
 * cannot be set up again). The tests compare this encoder's bytes with the reference's
 * (psycopg's encoder) for every kind of value. One thread per encoder (one per process in the
 * ingest): take() may run Python code (a collection) between its steps.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

/* A growing buffer kept as a bytearray (so that take() hands it over without a copy). */
typedef struct {
    PyObject *array; /* bytearray, its size is the capacity */
    Py_ssize_t used;
} Buffer;

typedef struct {
    Buffer data, offsets, seqs, days;
    PyObject *ids; /* list of str */
} Rows;

typedef struct {
    PyObject_HEAD
    PyObject *owners;        /* dict: square key (int) -> owner tuple */
    PyObject *h3_cell;       /* h3's latlng_to_cell(lat, lng, res) */
    PyObject *resolution;    /* int */
    PyObject *report_fields; /* Report -> fields tuple */
    char *kinds;             /* 't' text, 'z' timestamptz, one per report field before the point */
    Py_ssize_t n_fields;     /* the report's fields, the point's two included */
    Py_ssize_t ident, created; /* where the fields hold the id and the creation time */
    int64_t batch;
    int64_t level1, level2;
    double per_degree1, per_degree2;
    int row_shift;
    Rows located, pending;
    Buffer points;
    PyObject *last_zone; /* the last fixed-offset zone seen, and its offset in microseconds */
    int64_t last_offset;
} Encoder;

static PyObject *str_utcoffset;

/* microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch) */
#define PG_EPOCH_US INT64_C(946684800000000)
#define US_PER_DAY INT64_C(86400000000)
#define WIB_SECONDS 25200
#define EWKB_POINT_SIZE 25
#define OWNER_FIELDS 5
#define MAX_KINDS 64
/* a square's row and column take 24 bits each in its key (squares.py) */
#define SQUARE_LIMIT 16777216.0

static int buffer_init(Buffer *b) {
    b->array = PyByteArray_FromStringAndSize(NULL, 0);
    b->used = 0;
    return b->array ? 0 : -1;
}

/* Room for `more` bytes after what is used; returns where they go, or NULL. */
static char *buffer_room(Buffer *b, Py_ssize_t more) {
    Py_ssize_t need = b->used + more, have = PyByteArray_GET_SIZE(b->array);
    if (need > have) {
        Py_ssize_t grow = have < 4096 ? 4096 : have;
        while (grow < need) grow *= 2;
        if (PyByteArray_Resize(b->array, grow) < 0) return NULL;
    }
    return PyByteArray_AS_STRING(b->array) + b->used;
}

/* The bytes written so far, as a new reference to a bytearray of their size: the buffer's own
 * (shrunk to them), or a copy when much room is left (so that what is handed over holds no
 * slack). The buffer itself is unchanged but for its spare room. */
static PyObject *buffer_bytes(Buffer *b) {
    Py_ssize_t capacity = PyByteArray_GET_SIZE(b->array);
    if (b->used < capacity - capacity / 8)
        return PyByteArray_FromStringAndSize(PyByteArray_AS_STRING(b->array), b->used);
    if (PyByteArray_Resize(b->array, b->used) < 0) return NULL;
    Py_INCREF(b->array);
    return b->array;
}

static inline char *put16(char *p, uint16_t v) {
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
    return p + 2;
}

static inline char *put32(char *p, uint32_t v) {
    uint32_t be = __builtin_bswap32(v);
    memcpy(p, &be, 4);
    return p + 4;
}

static inline char *put64(char *p, uint64_t v) {
    uint64_t be = __builtin_bswap64(v);
    memcpy(p, &be, 8);
    return p + 8;
}

static int rows_init(Rows *r) {
    if (buffer_init(&r->data) < 0 || buffer_init(&r->offsets) < 0 || buffer_init(&r->seqs) < 0 ||
        buffer_init(&r->days) < 0)
        return -1;
    r->ids = PyList_New(0);
    return r->ids ? 0 : -1;
}

static int rows_traverse(Rows *r, visitproc visit, void *arg) {
    Py_VISIT(r->ids);
    return 0;
}

static void rows_clear(Rows *r) {
    Py_CLEAR(r->data.array);
    Py_CLEAR(r->offsets.array);
    Py_CLEAR(r->seqs.array);
    Py_CLEAR(r->days.array);
    Py_CLEAR(r->ids);
}

/* What take() swaps in: empty buffers and lists for both row sets and the points, all made
 * before anything is handed over, so that running out of memory loses nothing. */
#define FRESH (2 * 4 + 1)

static int fresh_objects(PyObject **fresh, PyObject **ids) {
    for (int i = 0; i < FRESH; i++) fresh[i] = PyByteArray_FromStringAndSize(NULL, 0);
    ids[0] = PyList_New(0);
    ids[1] = PyList_New(0);
    for (int i = 0; i < FRESH; i++)
        if (fresh[i] == NULL) goto fail;
    if (ids[0] != NULL && ids[1] != NULL) return 0;
fail:
    for (int i = 0; i < FRESH; i++) Py_CLEAR(fresh[i]);
    Py_CLEAR(ids[0]);
    Py_CLEAR(ids[1]);
    return -1;
}

/* A timestamptz: microseconds since 2000-01-01 UTC. Days from the civil date as in
 * http://howardhinnant.github.io/date_algorithms.html (days_from_civil). */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468; /* since 1970-01-01 */
}

static int zone_offset(Encoder *self, PyObject *moment, int64_t *offset) {
    PyObject *zone = PyDateTime_DATE_GET_TZINFO(moment);
    if (zone == Py_None) {
        PyErr_SetString(PyExc_ValueError, "a report's time has no time zone");
        return -1;
    }
    /* a datetime.timezone has one offset whatever the moment: remember the last one */
    if (zone == self->last_zone) {
        *offset = self->last_offset;
        return 0;
    }
    PyObject *delta = PyObject_CallMethodOneArg(zone, str_utcoffset, moment);
    if (delta == NULL) return -1;
    if (!PyDelta_Check(delta)) {
        Py_DECREF(delta);
        PyErr_SetString(PyExc_ValueError, "a report's time zone gives no offset");
        return -1;
    }
    int days = PyDateTime_DELTA_GET_DAYS(delta);
    *offset = (days * INT64_C(86400) + PyDateTime_DELTA_GET_SECONDS(delta)) * INT64_C(1000000) +
              PyDateTime_DELTA_GET_MICROSECONDS(delta);
    Py_DECREF(delta);
    /* datetime's own rule (its utcoffset() checks what the tzinfo returns; this call does not) */
    if (days < -1 || days > 0 || *offset <= -US_PER_DAY || *offset >= US_PER_DAY) {
        PyErr_SetString(PyExc_ValueError,
                        "offset must be a timedelta strictly between -timedelta(hours=24) and "
                        "timedelta(hours=24)");
        return -1;
    }
    if (Py_IS_TYPE(zone, Py_TYPE(PyDateTime_TimeZone_UTC))) {
        Py_INCREF(zone);
        Py_XSETREF(self->last_zone, zone);
        self->last_offset = *offset;
    }
    return 0;
}

/* microseconds since 1970-01-01 UTC */
static int unix_micros(Encoder *self, PyObject *moment, int64_t *out) {
    if (!PyDateTime_Check(moment)) {
        PyErr_Format(PyExc_TypeError, "a report's time is a %.80s, not a datetime",
                     Py_TYPE(moment)->tp_name);
        return -1;
    }
    int64_t offset;
    if (zone_offset(self, moment, &offset) < 0) return -1;
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(moment), PyDateTime_GET_MONTH(moment),
                                   PyDateTime_GET_DAY(moment));
    int64_t seconds = PyDateTime_DATE_GET_HOUR(moment) * 3600 +
                      PyDateTime_DATE_GET_MINUTE(moment) * 60 +
                      PyDateTime_DATE_GET_SECOND(moment);
    *out = days * US_PER_DAY + seconds * INT64_C(1000000) +
           PyDateTime_DATE_GET_MICROSECOND(moment) - offset;
    return 0;
}

/* One field's bytes, found before any is written (so that a bad value writes nothing). */
typedef struct {
    const char *text; /* a text's UTF-8, or NULL */
    Py_ssize_t size;  /* -1: NULL; 8: a timestamptz */
    int64_t micros;
} Field;

static int text_field(PyObject *value, Field *f) {
    f->text = NULL;
    if (value == Py_None) {
        f->size = -1;
        return 0;
    }
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "a report's text field is a %.80s, not a str",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    f->text = PyUnicode_AsUTF8AndSize(value, &f->size);
    if (f->text == NULL) return -1;
    if (f->size > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "a report's text is over 2 GiB");
        return -1;
    }
    return 0;
}

static char *put_field(char *p, const Field *f) {
    if (f->size < 0) return put32(p, UINT32_MAX); /* NULL */
    p = put32(p, (uint32_t)f->size);
    if (f->text == NULL) return put64(p, (uint64_t)f->micros);
    memcpy(p, f->text, f->size);
    return p + f->size;
}

/* native order: read back as array('q') and array('i'); room made beforehand */
static void append64(Buffer *b, int64_t v) {
    memcpy(PyByteArray_AS_STRING(b->array) + b->used, &v, 8);
    b->used += 8;
}

static void append32(Buffer *b, int32_t v) {
    memcpy(PyByteArray_AS_STRING(b->array) + b->used, &v, 4);
    b->used += 4;
}

static int encode(Encoder *self, int64_t seq, PyObject *fields) {
    Py_ssize_t n = self->n_fields - 2; /* the fields before the point */
    Field f[MAX_KINDS + OWNER_FIELDS - 1];
    if (PyTuple_GET_SIZE(fields) != self->n_fields) {
        PyErr_Format(PyExc_ValueError, "a report has %zd fields, not %zd",
                     PyTuple_GET_SIZE(fields), self->n_fields);
        return -1;
    }
    Py_ssize_t size = 2; /* the field count */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = PyTuple_GET_ITEM(fields, i);
        if (self->kinds[i] == 't') {
            if (text_field(value, &f[i]) < 0) return -1;
        } else if (value == Py_None) {
            f[i].text = NULL;
            f[i].size = -1;
        } else {
            f[i].text = NULL;
            f[i].size = 8;
            if (unix_micros(self, value, &f[i].micros) < 0) return -1;
            f[i].micros -= PG_EPOCH_US;
        }
        size += 4 + (f[i].size > 0 ? f[i].size : 0);
    }
    PyObject *lng_obj = PyTuple_GET_ITEM(fields, n), *lat_obj = PyTuple_GET_ITEM(fields, n + 1);
    double lng = PyFloat_AsDouble(lng_obj), lat = PyFloat_AsDouble(lat_obj);
    if ((lng == -1.0 || lat == -1.0) && PyErr_Occurred()) return -1;
    if (f[self->created].size < 0) {
        PyErr_SetString(PyExc_ValueError, "a report has no creation time");
        return -1;
    }
    int64_t created = f[self->created].micros + PG_EPOCH_US; /* for the day, below */

    /* the res-12 cell (h3's own function) */
    PyObject *args[3] = {lat_obj, lng_obj, self->resolution};
    PyObject *cell_obj = PyObject_Vectorcall(self->h3_cell, args, 3, NULL);
    if (cell_obj == NULL) return -1;
    int64_t cell = PyLong_AsLongLong(cell_obj);
    Py_DECREF(cell_obj);
    if (cell == -1 && PyErr_Occurred()) return -1;

    /* the owner, when the point's square (level 1, else level 2) lies inside one unit */
    double y = lat + 90.0, x = lng + 180.0;
    PyObject *owner = NULL;
    /* not on the globe (or NaN): no square, PostGIS decides (outside) */
    int on_globe = lat >= -90.0 && lat <= 90.0 && lng >= -180.0 && lng <= 180.0;
    for (int level = 0; on_globe && level < 2 && owner == NULL; level++) {
        double per = level ? self->per_degree2 : self->per_degree1;
        double row = y * per, column = x * per;
        if (!(row < SQUARE_LIMIT && column < SQUARE_LIMIT)) break; /* a key's bits */
        int64_t key = (level ? self->level2 : self->level1) |
                      (int64_t)((uint64_t)row << self->row_shift) | (int64_t)column;
        PyObject *key_obj = PyLong_FromLongLong(key);
        if (key_obj == NULL) return -1;
        owner = PyDict_GetItemWithError(self->owners, key_obj); /* borrowed */
        Py_DECREF(key_obj);
        if (owner == NULL && PyErr_Occurred()) return -1;
        if (owner == Py_None) owner = NULL; /* as the reference: no owner at this level */
    }
    int outside = 1;
    if (owner != NULL) {
        if (!PyTuple_Check(owner) || PyTuple_GET_SIZE(owner) != OWNER_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "an owner is not a tuple of five");
            return -1;
        }
        for (Py_ssize_t i = 0; i < OWNER_FIELDS - 1; i++) {
            if (text_field(PyTuple_GET_ITEM(owner, i), &f[n + i]) < 0) return -1;
            size += 4 + (f[n + i].size > 0 ? f[n + i].size : 0);
        }
        PyObject *flag = PyTuple_GET_ITEM(owner, OWNER_FIELDS - 1);
        if (flag != Py_True && flag != Py_False) {
            PyErr_SetString(PyExc_ValueError, "an owner's outside flag is not a bool");
            return -1;
        }
        outside = flag == Py_True;
    } else {
        for (Py_ssize_t i = 0; i < OWNER_FIELDS - 1; i++) f[n + i].size = -1;
        size += 4 * (OWNER_FIELDS - 1);
    }
    size += (4 + EWKB_POINT_SIZE) + (4 + 8) * 2 + (4 + 1);

    Rows *into = owner != NULL ? &self->located : &self->pending;
    Py_ssize_t start = into->data.used;
    /* all the room first, and the id (the last thing that can fail): then nothing can stop
     * the row half-way, and the buffers stay in step */
    Py_ssize_t point_size = 2 + 4 + 8 + 4 + EWKB_POINT_SIZE;
    if (buffer_room(&into->offsets, 8) == NULL || buffer_room(&into->seqs, 8) == NULL ||
        buffer_room(&into->days, 4) == NULL ||
        (owner == NULL && buffer_room(&self->points, point_size) == NULL))
        return -1;
    char *p = buffer_room(&into->data, size);
    if (p == NULL) return -1;
    if (PyList_Append(into->ids, PyTuple_GET_ITEM(fields, self->ident)) < 0) return -1;
    char *row = p;
    p = put16(p, (uint16_t)(n + 3 + OWNER_FIELDS));
    for (Py_ssize_t i = 0; i < n; i++) p = put_field(p, &f[i]);
    /* the point as EWKB: little endian, Point with SRID, 4326, x, y */
    p = put32(p, EWKB_POINT_SIZE);
    char *ewkb = p;
    static const char head[9] = {1, 1, 0, 0, 0x20, (char)0xE6, 0x10, 0, 0};
    memcpy(p, head, 9);
    memcpy(p + 9, &lng, 8); /* the machine is little endian (checked at import) */
    memcpy(p + 17, &lat, 8);
    p += EWKB_POINT_SIZE;
    p = put32(p, 8);
    p = put64(p, (uint64_t)cell);
    p = put32(p, 8);
    p = put64(p, (uint64_t)self->batch);
    for (Py_ssize_t i = 0; i < OWNER_FIELDS - 1; i++) p = put_field(p, &f[n + i]);
    p = put32(p, 1);
    *p++ = (char)outside;
    if (p - row != size) Py_FatalError("pipelines._rowcodec: row size miscounted");

    /* bookkeeping: where the row starts, its seq and its creation day in Jakarta */
    int64_t seconds = created / 1000000 - (created % 1000000 < 0);
    int64_t day = (seconds + WIB_SECONDS) / 86400 - ((seconds + WIB_SECONDS) % 86400 < 0);
    append64(&into->offsets, start);
    append64(&into->seqs, seq);
    append32(&into->days, (int32_t)day);
    if (owner == NULL) {
        char *q = PyByteArray_AS_STRING(self->points.array) + self->points.used;
        q = put16(q, 2);
        q = put32(q, 8);
        q = put64(q, (uint64_t)seq);
        q = put32(q, EWKB_POINT_SIZE);
        memcpy(q, ewkb, EWKB_POINT_SIZE);
        self->points.used += point_size;
    }
    into->data.used += size;
    return 0;
}

static PyObject *Encoder_add(Encoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (self->kinds == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the encoder was not set up");
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add(seq, report) takes two arguments");
        return NULL;
    }
    int64_t seq = PyLong_AsLongLong(args[0]);
    if (seq == -1 && PyErr_Occurred()) return NULL;
    PyObject *report = args[1];
    int ok;
    if (PyTuple_Check(report)) {
        ok = encode(self, seq, report);
    } else {
        PyObject *fields = PyObject_CallOneArg(self->report_fields, report);
        if (fields == NULL) return NULL;
        if (!PyTuple_Check(fields)) {
            Py_DECREF(fields);
            PyErr_SetString(PyExc_TypeError, "report_fields did not return a tuple");
            return NULL;
        }
        ok = encode(self, seq, fields);
        Py_DECREF(fields);
    }
    if (ok < 0) return NULL;
    Py_RETURN_NONE;
}

/* take(): every buffer's bytes first, then (nothing can fail any more) empty buffers and lists
 * in their place: running out of memory half-way changes nothing. */
static PyObject *Encoder_take(Encoder *self, PyObject *Py_UNUSED(ignored)) {
    if (self->kinds == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the encoder was not set up");
        return NULL;
    }
    Buffer *buffers[FRESH] = {
        &self->located.data, &self->located.offsets, &self->located.seqs, &self->located.days,
        &self->pending.data, &self->pending.offsets, &self->pending.seqs, &self->pending.days,
        &self->points,
    };
    PyObject *fresh[FRESH], *ids[2], *out[FRESH] = {NULL};
    PyObject *result = PyTuple_New(3), *located = PyTuple_New(5), *pending = PyTuple_New(5);
    if (result == NULL || located == NULL || pending == NULL || fresh_objects(fresh, ids) < 0) {
        Py_XDECREF(result);
        Py_XDECREF(located);
        Py_XDECREF(pending);
        return NULL;
    }
    for (int i = 0; i < FRESH; i++) {
        out[i] = buffer_bytes(buffers[i]);
        if (out[i] == NULL) {
            for (int j = 0; j < FRESH; j++) {
                Py_XDECREF(out[j]);
                Py_DECREF(fresh[j]);
            }
            Py_DECREF(ids[0]);
            Py_DECREF(ids[1]);
            Py_DECREF(result);
            Py_DECREF(located);
            Py_DECREF(pending);
            return NULL;
        }
    }
    /* from here on nothing can fail */
    for (int i = 0; i < FRESH; i++) {
        Py_SETREF(buffers[i]->array, fresh[i]);
        buffers[i]->used = 0;
    }
    PyObject *located_ids = self->located.ids, *pending_ids = self->pending.ids;
    self->located.ids = ids[0];
    self->pending.ids = ids[1];
    PyObject *parts[2][5] = {{out[0], out[1], located_ids, out[2], out[3]},
                             {out[4], out[5], pending_ids, out[6], out[7]}};
    for (int i = 0; i < 5; i++) {
        PyTuple_SET_ITEM(located, i, parts[0][i]);
        PyTuple_SET_ITEM(pending, i, parts[1][i]);
    }
    PyTuple_SET_ITEM(result, 0, located);
    PyTuple_SET_ITEM(result, 1, pending);
    PyTuple_SET_ITEM(result, 2, out[8]);
    return result;
}

static Py_ssize_t Encoder_len(Encoder *self) {
    if (self->kinds == NULL) return 0;
    return PyList_GET_SIZE(self->located.ids) + PyList_GET_SIZE(self->pending.ids);
}

static int Encoder_init(Encoder *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"owners", "batch", "h3_cell", "resolution", "report_fields",
                            "kinds", "ident", "created", "level1", "level2",
                            "per_degree1", "per_degree2", "row_shift", NULL};
    PyObject *owners, *h3_cell, *resolution, *report_fields;
    const char *kinds;
    long long batch, level1, level2;
    Py_ssize_t ident, created;
    double per1, per2;
    int row_shift;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!LOOOsnnLLddi", names, &PyDict_Type,
                                     &owners, &batch, &h3_cell, &resolution, &report_fields,
                                     &kinds, &ident, &created, &level1, &level2, &per1, &per2, &row_shift))
        return -1;
    if (self->kinds != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "an encoder is set up once");
        return -1;
    }
    /* a key's row and column must not overlap, and the key must fit a bigint */
    if (row_shift < 24 || row_shift > 39 || !(per1 > 0.0 && per1 < 1e6) ||
        !(per2 > 0.0 && per2 < 1e6) || level1 < 0 || level2 < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "row_shift: 24 - 39; per_degree: above 0, below a million; levels >= 0");
        return -1;
    }
    size_t n = strlen(kinds);
    if (n == 0 || n > MAX_KINDS || strspn(kinds, "tz") != n || ident < 0 || (size_t)ident >= n ||
        kinds[ident] != 't' || created < 0 || (size_t)created >= n || kinds[created] != 'z') {
        PyErr_SetString(PyExc_ValueError,
                        "kinds: up to 64 of 't' and 'z'; ident a text, created a time");
        return -1;
    }
    /* (left over from a set-up that ran out of memory: an encoder not set up holds nothing) */
    rows_clear(&self->located);
    rows_clear(&self->pending);
    Py_CLEAR(self->points.array);
    if (rows_init(&self->located) < 0 || rows_init(&self->pending) < 0 ||
        buffer_init(&self->points) < 0)
        return -1;
    char *copy = PyMem_Malloc(n + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(copy, kinds, n + 1);
    Py_INCREF(owners);
    self->owners = owners;
    Py_INCREF(h3_cell);
    self->h3_cell = h3_cell;
    Py_INCREF(resolution);
    self->resolution = resolution;
    Py_INCREF(report_fields);
    self->report_fields = report_fields;
    self->n_fields = (Py_ssize_t)n + 2;
    self->ident = ident;
    self->created = created;
    self->batch = batch;
    self->level1 = level1;
    self->level2 = level2;
    self->per_degree1 = per1;
    self->per_degree2 = per2;
    self->row_shift = row_shift;
    self->kinds = copy; /* set up: the methods work from now on */
    return 0;
}

static int Encoder_traverse(Encoder *self, visitproc visit, void *arg) {
    Py_VISIT(self->owners);
    Py_VISIT(self->h3_cell);
    Py_VISIT(self->resolution);
    Py_VISIT(self->report_fields);
    Py_VISIT(self->last_zone);
    if (rows_traverse(&self->located, visit, arg) < 0) return -1;
    return rows_traverse(&self->pending, visit, arg);
}

static int Encoder_clear(Encoder *self) {
    /* unusable first: clearing a field can run Python code (a finalizer) that calls it */
    PyMem_Free(self->kinds);
    self->kinds = NULL;
    Py_CLEAR(self->owners);
    Py_CLEAR(self->h3_cell);
    Py_CLEAR(self->resolution);
    Py_CLEAR(self->report_fields);
    Py_CLEAR(self->last_zone);
    rows_clear(&self->located);
    rows_clear(&self->pending);
    Py_CLEAR(self->points.array);
    return 0;
}

static void Encoder_dealloc(Encoder *self) {
    PyObject_GC_UnTrack(self);
    Encoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Encoder_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Encoder_add, METH_FASTCALL,
     "add(seq, report): encode a report (its fields tuple, or a Report) as line seq."},
    {"take", (PyCFunction)Encoder_take, METH_NOARGS,
     "take() -> (located, pending, points): the rows so far; the encoder starts again empty.\n"
     "located and pending are (data, offsets, ids, seqs, days): offsets and seqs int64,\n"
     "days int32, in the machine's order."},
    {NULL},
};

static PySequenceMethods Encoder_sequence = {.sq_length = (lenfunc)Encoder_len};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pipelines._rowcodec.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)Encoder_traverse,
    .tp_clear = (inquiry)Encoder_clear,
    .tp_doc = "Encodes reports as binary COPY rows of pantau.reports (see ingest_rows).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Encoder_init,
    .tp_dealloc = (destructor)Encoder_dealloc,
    .tp_methods = Encoder_methods,
    .tp_as_sequence = &Encoder_sequence,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "pipelines._rowcodec",
    .m_doc = "The ingest's row encoder, compiled (reference: ingest_rows.PyRowEncoder).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__rowcodec(void) {
    const uint16_t probe = 1;
    if (*(const char *)&probe != 1) {
        PyErr_SetString(PyExc_ImportError, "the row encoder needs a little-endian machine");
        return NULL;
    }
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    str_utcoffset = PyUnicode_InternFromString("utcoffset");
    if (str_utcoffset == NULL || PyType_Ready(&EncoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&EncoderType);
    if (PyModule_AddObject(m, "Encoder", (PyObject *)&EncoderType) < 0) {
        Py_DECREF(&EncoderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
