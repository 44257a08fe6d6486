/* SPDX-License-Identifier: Apache-2.0 */
#include "date.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

bool date_is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int date_days_in_month(int y, int m) {
        static const unsigned char mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && date_is_leap(y) ? 29 : mdays[m - 1];
}

bool date_ymd_valid(int y, int m, int d) {
        return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= date_days_in_month(y, m);
}

int date_parse(const char *s, int *ret_y, int *ret_m, int *ret_d) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < DATE_LEN; i++) {
                bool dash = i == 4 || i == 7;
                if (dash ? s[i] != '-' : !(s[i] >= '0' && s[i] <= '9'))
                        return -EINVAL;
        }
        if (s[DATE_LEN] != '\0')
                return -EINVAL;

        int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        int m = (s[5] - '0') * 10 + (s[6] - '0');
        int d = (s[8] - '0') * 10 + (s[9] - '0');
        if (!date_ymd_valid(y, m, d))
                return -EINVAL;

        if (ret_y)
                *ret_y = y;
        if (ret_m)
                *ret_m = m;
        if (ret_d)
                *ret_d = d;
        return 0;
}

bool date_is_valid(const char *s) {
        return date_parse(s, NULL, NULL, NULL) >= 0;
}

int date_compare(const char *a, const char *b) {
        int r = strncmp(a, b, DATE_LEN);
        return r < 0 ? -1 : r > 0;
}

void date_of_cst(time_t t, char ret[DATE_LEN + 1]) {
        time_t cst = t + 8 * 3600;
        struct tm tm;
        gmtime_r(&cst, &tm);
        strftime(ret, DATE_LEN + 1, "%Y-%m-%d", &tm);
}

void date_today_cst(char ret[DATE_LEN + 1]) {
        date_of_cst(time(NULL), ret);
}
