/* strmap.h — a string-keyed hash map (open addressing). The map copies
 * and owns its keys; values are borrowed pointers the caller owns. */
#ifndef GG_STRMAP_H
#define GG_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

strmap *strmap_new(void);
void strmap_free(strmap *m); /* frees keys, not values */
void *strmap_get(const strmap *m, const char *key);
void strmap_put(strmap *m, const char *key, void *value); /* replaces */
void *strmap_del(strmap *m, const char *key);              /* returns old value */
size_t strmap_len(const strmap *m);
/* Iteration: i starts at 0; returns 0 when done. */
int strmap_next(const strmap *m, size_t *i, const char **key, void **value);

#endif
