/*
 * Mimecast input: where each stream stands (pure). A stream walks time windows [from, to] page by
 * page (oldest first); "done" is the time before which everything was delivered; an overlap window
 * is read again on the next walk and the identities of the records already delivered in it ("seen",
 * bounded) drop the repeats. Records with identical timestamps at a page or window boundary are
 * therefore neither lost nor duplicated.
 */
#ifndef MC_CURSOR_H
#define MC_CURSOR_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set of record identities with the record time of each (open addressing; key 0 = free). */
struct mc_seen_entry {
    uint64_t key;
    int64_t t;
};

struct mc_seen {
    struct mc_seen_entry *slots; /* owned; cap slots, a power of two */
    size_t cap;
    size_t n;
    int64_t min_t; /* smallest t held (valid when n > 0) */
};

/* Frees the slots; the set is empty and reusable afterwards. NULL-safe. */
void mc_seen_free(struct mc_seen *s);

/* Empties the set, keeping its memory. */
void mc_seen_reset(struct mc_seen *s);

bool mc_seen_has(const struct mc_seen *s, uint64_t key);

/* Adds key (non-zero) with time t; a key already present keeps the later time. MS_OK/MS_ENOMEM. */
int mc_seen_add(struct mc_seen *s, uint64_t key, int64_t t);

/* Adds every entry of from. MS_OK or MS_ENOMEM. */
int mc_seen_merge(struct mc_seen *s, const struct mc_seen *from);

/*
 * Forgets entries older than keep_from; when more than max remain, keeps the max newest and sets
 * *over to the number forgotten for that reason (duplicates become possible for those).
 * Returns MS_OK or MS_ENOMEM (the set is unchanged then).
 */
int mc_seen_prune(struct mc_seen *s, int64_t keep_from, size_t max, size_t *over);

/* One walk over a time window; lanes are the sub-queries of one walk (message tracking domains). */
struct mc_walk {
    bool active;
    int64_t from;  /* epoch s, inclusive (sent as from/start) */
    int64_t to;    /* epoch s, inclusive (sent as to/end) */
    unsigned lane; /* current sub-query */
    char *token;   /* owned: the next page of the current lane, NULL = its first page */
    unsigned page; /* pages completed in the current lane (for log lines) */
    bool any;      /* max_t is set */
    int64_t max_t; /* latest record time of the completed pages */
    bool sorted;   /* every completed page came in ascending time order */
};

struct mc_cursor {
    int64_t done; /* every record older than this was delivered (epoch s) */
    bool fresh;   /* no walk yet: start at done, without the overlap */
    struct mc_walk walk;
};

/* Time statistics of one page, collected record by record. */
struct mc_page_stats {
    bool any;
    bool sorted;
    int64_t min_t;
    int64_t max_t;
};

void mc_cursor_free(struct mc_cursor *c);

/* Deep copy (dst is freed first). MS_OK or MS_ENOMEM (dst is then empty). */
int mc_cursor_copy(struct mc_cursor *dst, const struct mc_cursor *src);

/* Replaces the walk's token with a copy of token (NULL clears). MS_OK or MS_ENOMEM. */
int mc_walk_set_token(struct mc_walk *w, const char *token);

/*
 * Starts the next walk at now (epoch s): from = done (fresh) or done - overlap_s, never before
 * floor (INT64_MIN: no floor; *floored tells whether it cut the window), never after now;
 * to = now, or from + window_max_s when the window would be longer.
 */
void mc_cursor_start_walk(struct mc_cursor *c,
                          int64_t now,
                          int64_t overlap_s,
                          int64_t window_max_s,
                          int64_t floor,
                          bool *floored);

void mc_page_stats_init(struct mc_page_stats *ps);
void mc_page_stats_add(struct mc_page_stats *ps, int64_t t);

/* A page was consumed completely: the walk's progress includes its records. */
void mc_walk_page_done(struct mc_walk *w, const struct mc_page_stats *ps);

/*
 * The current lane has no more pages. Returns true when that ended the walk (then done = to and
 * the walk is inactive).
 */
bool mc_cursor_lane_done(struct mc_cursor *c, unsigned lanes);

/*
 * The page token was refused: the lane starts again without it. A single-lane walk that came in
 * time order resumes at its latest record time (everything older was delivered); otherwise the lane
 * starts at the walk's from again and the seen set drops what was delivered already.
 */
void mc_walk_restart(struct mc_walk *w, unsigned lanes);

/* Entries of the seen set that the next queries can still return have t >= this. */
int64_t mc_cursor_keep_from(const struct mc_cursor *c, int64_t overlap_s, unsigned lanes);

/* {"done":..,"fresh":..,"walk":{..},"seen":{"<t>":"<16 hex per key>..."}}; NULL on ENOMEM. */
struct json_object *mc_cursor_to_json(const struct mc_cursor *c, const struct mc_seen *seen);

/*
 * Reads what mc_cursor_to_json wrote into c (freed first) and seen (added to).
 * Returns MS_OK, MS_EINVAL (why says which member is wrong) or MS_ENOMEM.
 */
int mc_cursor_from_json(
    struct json_object *o, struct mc_cursor *c, struct mc_seen *seen, char *why, size_t why_len);

#endif
