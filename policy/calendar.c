/* SPDX-License-Identifier: Apache-2.0 */
#include "calendar.h"
#include "date.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

/* What a year file says about one day; anything it does not mention follows
 * the Monday-to-Friday rule. */
enum {
        DAY_DEFAULT = 0,
        DAY_HOLIDAY = 1,
        DAY_WORKDAY = 2,
};

/* Longer lines are refused rather than split: a split line would be parsed
 * as two entries. */
#define LINE_MAX_BYTES 1024
#define FILE_MAX_LINES 10000U
#define DIR_MAX_FILES  1000U
/* However a file marks its days, the deadline loop looks at no more days
 * than this (about a century). */
#define SCAN_MAX_DAYS 40000U

typedef struct CalendarYear {
        int year;
        uint8_t kind[366]; /* indexed by day of year, 0-based */
} CalendarYear;

struct Calendar {
        CalendarYear *years; /* sorted by year, unique */
        size_t n_years;
};

/* Days since 1970-01-01 in the proleptic Gregorian calendar. Years here are
 * 1..9999, so the 400-year era is never negative. */
static int64_t days_from_civil(int y, int m, int d) {
        if (m <= 2)
                y--;
        int64_t era = y / 400;
        int64_t yoe = y - era * 400;                                   /* 0..399 */
        int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* from March 1st */
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int day_of_year(int y, int m, int d) {
        return (int)(days_from_civil(y, m, d) - days_from_civil(y, 1, 1));
}

int calendar_days_between(const char *from, const char *to, int64_t *ret) {
        int y1, m1, d1, y2, m2, d2;
        if (date_parse(from, &y1, &m1, &d1) < 0 || date_parse(to, &y2, &m2, &d2) < 0)
                return -EINVAL;
        *ret = days_from_civil(y2, m2, d2) - days_from_civil(y1, m1, d1);
        return 0;
}

int calendar_weekday(int y, int m, int d) {
        if (!date_ymd_valid(y, m, d))
                return -EINVAL;
        /* 1970-01-01 was a Thursday. */
        int64_t w = (days_from_civil(y, m, d) + 4) % 7;
        return (int)(w < 0 ? w + 7 : w);
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static void put_digits(char *p, int v, int width) {
        for (int i = width - 1; i >= 0; i--) {
                p[i] = (char)('0' + v % 10);
                v /= 10;
        }
}

static void date_format(char ret[DATE_LEN + 1], int y, int m, int d) {
        put_digits(ret, y, 4);
        ret[4] = '-';
        put_digits(ret + 5, m, 2);
        ret[7] = '-';
        put_digits(ret + 8, d, 2);
        ret[10] = '\0';
}

int calendar_new(Calendar **ret) {
        if (!ret)
                return -EINVAL;
        Calendar *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

Calendar *calendar_free(Calendar *c) {
        if (!c)
                return NULL;
        free(c->years);
        free(c);
        return NULL;
}

static const CalendarYear *find_year(const Calendar *c, int year) {
        size_t lo = 0, hi = c->n_years;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (c->years[mid].year == year)
                        return &c->years[mid];
                if (c->years[mid].year < year)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

bool calendar_has_year(const Calendar *c, int year) {
        return c && find_year(c, year);
}

static bool day_is_working(const CalendarYear *cy, int doy, int wd) {
        if (cy) {
                if (cy->kind[doy] == DAY_HOLIDAY)
                        return false;
                if (cy->kind[doy] == DAY_WORKDAY)
                        return true;
        }
        return wd >= 1 && wd <= 5;
}

bool calendar_is_working_day(const Calendar *c, int y, int m, int d) {
        int wd = calendar_weekday(y, m, d);
        if (wd < 0)
                return false;
        return day_is_working(c ? find_year(c, y) : NULL, day_of_year(y, m, d), wd);
}

int calendar_add_working_days(const Calendar *c, const char *date_ymd, unsigned n,
                              char ret_date[DATE_LEN + 1], bool *ret_provisional) {
        int y, m, d, r;

        if (!c || !ret_date)
                return -EINVAL;
        r = date_parse(date_ymd, &y, &m, &d);
        if (r < 0)
                return r;
        if (n > CALENDAR_MAX_WORKING_DAYS)
                return -ERANGE;

        /* Walk day by day, keeping weekday and day of year incrementally:
         * cheaper and simpler than converting every day. */
        int wd = calendar_weekday(y, m, d);
        int doy = day_of_year(y, m, d);
        const CalendarYear *cy = find_year(c, y);
        bool provisional = false;
        unsigned left = n;

        for (unsigned scanned = 0; left > 0; scanned++) {
                if (scanned >= SCAN_MAX_DAYS)
                        return -ERANGE;
                wd = (wd + 1) % 7;
                doy++;
                if (++d > date_days_in_month(y, m)) {
                        d = 1;
                        if (++m > 12) {
                                m = 1;
                                doy = 0;
                                if (++y > 9999)
                                        return -ERANGE;
                                cy = find_year(c, y);
                        }
                }
                if (!cy)
                        provisional = true;
                if (day_is_working(cy, doy, wd))
                        left--;
        }

        date_format(ret_date, y, m, d);
        if (ret_provisional)
                *ret_provisional = provisional;
        return 0;
}

int calendar_is_overdue(const Calendar *c, const char *event_ymd, unsigned n, const char *today_ymd,
                        bool *ret_overdue, bool *ret_provisional) {
        char deadline[DATE_LEN + 1];
        bool provisional;
        int r;

        if (!date_is_valid(today_ymd))
                return -EINVAL;
        r = calendar_add_working_days(c, event_ymd, n, deadline, &provisional);
        if (r < 0)
                return r;
        if (ret_overdue)
                *ret_overdue = date_compare(today_ymd, deadline) > 0;
        if (ret_provisional)
                *ret_provisional = provisional;
        return 0;
}

/* ---- year files ---- */

typedef struct ParseState {
        const char *path;
        unsigned line;
        CalendarYear year;
        bool have_year;
        unsigned year_line;
        unsigned day_line[366]; /* line that declared a day, for duplicate reports */
        CbError *err;
} ParseState;

static const char *const weekday_names[7] = {
        "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

static int parse_error(ParseState *st, const char *what, const char *arg) {
        return cb_error_set(st->err, CB_ERR_VALIDATION, "%s:%u: %s%s%s%s", st->path, st->line, what,
                            arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
}

/* Splits off the next blank-separated token in place. */
static char *next_token(char **p) {
        char *s = *p;
        while (*s == ' ' || *s == '\t')
                s++;
        if (!*s) {
                *p = s;
                return NULL;
        }
        char *t = s;
        while (*s && *s != ' ' && *s != '\t')
                s++;
        if (*s)
                *s++ = '\0';
        *p = s;
        return t;
}

static bool looks_like_date(const char *t) {
        return strlen(t) == DATE_LEN && t[4] == '-' && t[7] == '-';
}

static int parse_date_in_year(ParseState *st, const char *tok, int *ret_doy, int *ret_wd) {
        int y, m, d;

        if (date_parse(tok, &y, &m, &d) < 0)
                return parse_error(st, "not a valid date (YYYY-MM-DD):", tok);
        if (y != st->year.year)
                return cb_error_set(st->err, CB_ERR_VALIDATION, "%s:%u: %s is outside the declared year %d",
                                    st->path, st->line, tok, st->year.year);
        *ret_doy = day_of_year(y, m, d);
        *ret_wd = calendar_weekday(y, m, d);
        return 0;
}

static void doy_format(int year, int doy, char ret[DATE_LEN + 1]) {
        int m = 1;
        while (m < 12 && doy >= date_days_in_month(year, m))
                doy -= date_days_in_month(year, m++);
        date_format(ret, year, m, doy + 1);
}

static int mark_day(ParseState *st, int doy, uint8_t kind) {
        if (st->year.kind[doy] != DAY_DEFAULT) {
                char date[DATE_LEN + 1];
                /* Name the day that clashed, which for a range need not be
                 * its first day. */
                doy_format(st->year.year, doy, date);
                return cb_error_set(st->err, CB_ERR_VALIDATION, "%s:%u: %s is already declared on line %u",
                                    st->path, st->line, date, st->day_line[doy]);
        }
        st->year.kind[doy] = kind;
        st->day_line[doy] = st->line;
        return 0;
}

static int parse_year_line(ParseState *st, char *rest) {
        const char *tok = next_token(&rest);

        if (st->have_year)
                return cb_error_set(st->err, CB_ERR_VALIDATION,
                                    "%s:%u: second \"year\" line (first on line %u)", st->path, st->line,
                                    st->year_line);
        if (!tok || strlen(tok) != 4 || !is_digit(tok[0]) || !is_digit(tok[1]) || !is_digit(tok[2]) ||
            !is_digit(tok[3]) || streq(tok, "0000"))
                return parse_error(st, "\"year\" needs a four-digit year, got", tok ? tok : "");
        if (next_token(&rest))
                return parse_error(st, "\"year\" takes exactly one value", NULL);
        st->year.year = atoi(tok);
        st->have_year = true;
        st->year_line = st->line;
        return 0;
}

static int parse_holiday_line(ParseState *st, char *rest) {
        const char *from = next_token(&rest);
        int from_doy, to_doy, wd, r;

        if (!from)
                return parse_error(st, "\"holiday\" needs a date: holiday FROM [TO] [NAME]", NULL);
        r = parse_date_in_year(st, from, &from_doy, &wd);
        if (r < 0)
                return r;
        to_doy = from_doy;

        /* The optional end date is recognized by its shape, so a holiday
         * name can never be mistaken for it, and a mistyped end date is
         * reported instead of becoming part of the name. */
        const char *to = next_token(&rest);
        if (to && looks_like_date(to)) {
                r = parse_date_in_year(st, to, &to_doy, &wd);
                if (r < 0)
                        return r;
                if (to_doy < from_doy)
                        return cb_error_set(st->err, CB_ERR_VALIDATION,
                                            "%s:%u: holiday ends (%s) before it starts (%s)", st->path,
                                            st->line, to, from);
        }

        for (int doy = from_doy; doy <= to_doy; doy++) {
                r = mark_day(st, doy, DAY_HOLIDAY);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_workday_line(ParseState *st, char *rest) {
        const char *date = next_token(&rest);
        int doy, wd, r;

        if (!date)
                return parse_error(st, "\"workday\" needs a date: workday DATE [NAME]", NULL);
        r = parse_date_in_year(st, date, &doy, &wd);
        if (r < 0)
                return r;
        if (wd != 0 && wd != 6)
                return cb_error_set(
                        st->err, CB_ERR_VALIDATION,
                        "%s:%u: workday %s is a %s; an adjusted working day falls on a Saturday or Sunday",
                        st->path, st->line, date, weekday_names[wd]);
        return mark_day(st, doy, DAY_WORKDAY);
}

static int parse_line(ParseState *st, char *line) {
        /* Tolerate a UTF-8 byte order mark left by an editor. */
        if (st->line == 1 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
            (unsigned char)line[2] == 0xBF)
                line += 3;

        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
                line[--len] = '\0';

        char *rest = line;
        const char *kw = next_token(&rest);
        if (!kw || kw[0] == '#')
                return 0;

        if (streq(kw, "year"))
                return parse_year_line(st, rest);
        if (!streq(kw, "holiday") && !streq(kw, "workday"))
                return parse_error(st, "unknown keyword (expected year, holiday or workday):", kw);
        if (!st->have_year)
                return parse_error(st, "entry before the \"year\" line", NULL);
        if (streq(kw, "holiday"))
                return parse_holiday_line(st, rest);
        return parse_workday_line(st, rest);
}

/* The year a file name promises, for names of the form NNNN.txt; 0 for any
 * other name. */
static int year_from_file_name(const char *path) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (strlen(base) != 8 || !streq(base + 4, ".txt"))
                return 0;
        for (int i = 0; i < 4; i++)
                if (!is_digit(base[i]))
                        return 0;
        return atoi(base);
}

static int parse_stream(ParseState *st, FILE *f) {
        char buf[LINE_MAX_BYTES + 2];
        int r;

        while (fgets(buf, sizeof(buf), f)) {
                st->line++;
                if (st->line > FILE_MAX_LINES)
                        return parse_error(st, "too many lines", NULL);
                size_t len = strlen(buf);
                if (len > 0 && buf[len - 1] != '\n' && !feof(f))
                        return cb_error_set(st->err, CB_ERR_VALIDATION, "%s:%u: line longer than %d bytes",
                                            st->path, st->line, LINE_MAX_BYTES);
                r = parse_line(st, buf);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return cb_error_set(st->err, CB_ERR_INTERNAL, "%s: read error", st->path);

        if (!st->have_year)
                return cb_error_set(st->err, CB_ERR_VALIDATION, "%s:%u: no \"year\" line", st->path,
                                    st->line);

        int named = year_from_file_name(st->path);
        if (named != 0 && named != st->year.year)
                return cb_error_set(st->err, CB_ERR_VALIDATION,
                                    "%s:%u: file name says %d but the file declares year %d", st->path,
                                    st->year_line, named, st->year.year);
        return 0;
}

static int parse_file(const char *path, CalendarYear *ret, CbError *err) {
        FILE *f;
        int r;

        f = fopen(path, "re");
        if (!f) {
                int e = errno;
                return cb_error_set(err, e == ENOENT ? CB_ERR_NOT_FOUND : CB_ERR_INTERNAL,
                                    "%s: cannot open: %s", path, strerror(e));
        }
        /* Heap, not stack: it holds a line number for every day. */
        ParseState *st = calloc(1, sizeof(*st));
        if (!st) {
                fclose(f);
                return -ENOMEM;
        }
        st->path = path;
        st->err = err;

        r = parse_stream(st, f);
        fclose(f);
        if (r >= 0)
                *ret = st->year;
        free(st);
        return r < 0 ? r : 0;
}

/* Builds the merged year table first and swaps it in, so a failed
 * allocation leaves the calendar as it was. */
static int calendar_commit(Calendar *c, const CalendarYear *add, size_t n_add) {
        size_t cap = c->n_years + n_add;
        CalendarYear *merged = calloc(cap ? cap : 1, sizeof(*merged));
        size_t n = 0;

        if (!merged)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_years; i++) {
                bool replaced = false;
                for (size_t j = 0; j < n_add; j++)
                        if (add[j].year == c->years[i].year)
                                replaced = true;
                if (!replaced)
                        merged[n++] = c->years[i];
        }
        for (size_t j = 0; j < n_add; j++)
                merged[n++] = add[j];

        /* Insertion sort: a handful of years. */
        for (size_t i = 1; i < n; i++) {
                CalendarYear tmp = merged[i];
                size_t k = i;
                while (k > 0 && merged[k - 1].year > tmp.year) {
                        merged[k] = merged[k - 1];
                        k--;
                }
                merged[k] = tmp;
        }

        free(c->years);
        c->years = merged;
        c->n_years = n;
        return 0;
}

int calendar_load_file(Calendar *c, const char *path, CbError *err) {
        CalendarYear y;
        int r;

        if (!c || !path)
                return -EINVAL;
        r = parse_file(path, &y, err);
        if (r < 0)
                return r;
        return calendar_commit(c, &y, 1);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

typedef struct NameList {
        char **names;
        size_t n;
} NameList;

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
}

static bool is_year_file(const char *name) {
        size_t len = strlen(name);
        return name[0] != '.' && len > 4 && streq(name + len - 4, ".txt");
}

int calendar_load_dir(Calendar *c, const char *dir, CbError *err) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_(name_list_done) NameList files = { 0 };
        _cleanup_(freep) CalendarYear *years = NULL;
        struct dirent *de;
        int r;

        if (!c || !dir)
                return -EINVAL;

        d = opendir(dir);
        if (!d) {
                int e = errno;
                return cb_error_set(err, e == ENOENT ? CB_ERR_NOT_FOUND : CB_ERR_INTERNAL,
                                    "%s: cannot open: %s", dir, strerror(e));
        }

        while ((de = readdir(d))) {
                if (!is_year_file(de->d_name))
                        continue;
                if (files.n >= DIR_MAX_FILES)
                        return cb_error_set(err, CB_ERR_VALIDATION, "%s: more than %u calendar files", dir,
                                            DIR_MAX_FILES);
                char **grown = realloc(files.names, (files.n + 1) * sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                files.names = grown;
                if (asprintf(&files.names[files.n], "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                files.n++;
        }
        if (files.n == 0)
                return 0;
        /* Sorted, so that the same directory always reports the same first
         * error. */
        qsort(files.names, files.n, sizeof(char *), cmp_str);

        years = calloc(files.n, sizeof(*years));
        if (!years)
                return -ENOMEM;
        for (size_t i = 0; i < files.n; i++) {
                r = parse_file(files.names[i], &years[i], err);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (years[j].year == years[i].year)
                                return cb_error_set(err, CB_ERR_VALIDATION,
                                                    "%s: year %d is also declared by %s", files.names[i],
                                                    years[i].year, files.names[j]);
        }
        return calendar_commit(c, years, files.n);
}
