/* Calendar arithmetic in the proleptic Gregorian calendar, UTC, without the C library's time zones.
 */
#ifndef MS_TIME_H
#define MS_TIME_H

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1-12), day d (1-31). Any year; no range check. */
int64_t ms_days_from_civil(int64_t y, int m, int d);

/* The inverse: the date of day z (days since 1970-01-01). */
void ms_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
