/* strmap.c — see strmap.h. Linear probing with tombstones; grows at 70 %. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char tomb;
#define TOMB (&tomb)

struct slot {
	char *key;
	void *value;
	uint64_t h;
};

struct strmap {
	struct slot *s;
	size_t cap, len, used; /* used counts tombstones too */
};

static uint64_t hash(const char *k)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ull;
	}
	return h;
}

strmap *strmap_new(void)
{
	strmap *m = xcalloc(1, sizeof *m);
	m->cap = 16;
	m->s = xcalloc(m->cap, sizeof *m->s);
	return m;
}

void strmap_free(strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].key && m->s[i].key != TOMB)
			free(m->s[i].key);
	free(m->s);
	free(m);
}

static struct slot *find(const strmap *m, const char *key, uint64_t h)
{
	size_t i = h & (m->cap - 1);
	for (;;) {
		struct slot *s = &m->s[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMB && s->h == h && strcmp(s->key, key) == 0)
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

static void grow(strmap *m)
{
	struct slot *old = m->s;
	size_t oldcap = m->cap;
	if (m->len * 2 >= m->cap)
		m->cap *= 2;
	m->s = xcalloc(m->cap, sizeof *m->s);
	m->used = m->len;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].key || old[i].key == TOMB)
			continue;
		size_t j = old[i].h & (m->cap - 1);
		while (m->s[j].key)
			j = (j + 1) & (m->cap - 1);
		m->s[j] = old[i];
	}
	free(old);
}

void *strmap_get(const strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash(key));
	return s ? s->value : NULL;
}

void strmap_put(strmap *m, const char *key, void *value)
{
	uint64_t h = hash(key);
	struct slot *s = find(m, key, h);
	if (s) {
		s->value = value;
		return;
	}
	if ((m->used + 1) * 10 >= m->cap * 7)
		grow(m);
	size_t i = h & (m->cap - 1);
	while (m->s[i].key && m->s[i].key != TOMB)
		i = (i + 1) & (m->cap - 1);
	if (!m->s[i].key)
		m->used++;
	m->s[i] = (struct slot){ xstrdup(key), value, h };
	m->len++;
}

void *strmap_del(strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash(key));
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = TOMB;
	s->value = NULL;
	m->len--;
	return v;
}

size_t strmap_len(const strmap *m)
{
	return m->len;
}

int strmap_next(const strmap *m, size_t *i, const char **key, void **value)
{
	for (; *i < m->cap; (*i)++) {
		struct slot *s = &m->s[*i];
		if (s->key && s->key != TOMB) {
			*key = s->key;
			*value = s->value;
			(*i)++;
			return 1;
		}
	}
	return 0;
}
