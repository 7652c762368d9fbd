/* price.c — what a request costs, in its route's billing unit (tokens,
 * seconds of audio, characters), as pure functions of the price table.
 *
 * Every amount is integer nano-dollars, rounded up, and bounded: one
 * request never costs more than COST_MAX, so sums of spend, reservations
 * and budgets (at most 1e9 USD each) stay far inside int64_t whatever
 * numbers Groq's answers or the configuration carry. */
#include "core.h"

#include <math.h>
#include <string.h>

const char *bill_unit_name(enum bill_unit u)
{
	switch (u) {
	case BU_TOKENS: return "tokens";
	case BU_AUDIO_SECONDS: return "audio_seconds";
	case BU_CHARS: return "characters";
	default: return "none";
	}
}

/* USD (a double from prices x counts) to nano-dollars, rounded up, within
 * [0, COST_MAX] (NaN counts as the maximum: never free by accident) */
static int64_t to_nusd(double usd)
{
	double n = usd * (double)NUSD_PER_USD;
	if (!(n >= 0)) /* NaN or negative */
		return isnan(n) ? COST_MAX : 0;
	if (n >= (double)COST_MAX)
		return COST_MAX;
	return (int64_t)ceil(n - 1e-6);
}

bool price_bills(const struct price *p, enum bill_unit u)
{
	if (!p)
		return false;
	switch (u) {
	case BU_TOKENS: return p->in_per_mtok >= 0 && p->out_per_mtok >= 0;
	case BU_AUDIO_SECONDS: return p->per_audio_hour >= 0;
	case BU_CHARS: return p->per_mchar >= 0;
	default: return true;
	}
}

int64_t cost_tokens(const struct price *p, int64_t in, int64_t cached, int64_t out, double factor)
{
	if (!price_bills(p, BU_TOKENS))
		return 0;
	if (cached < 0)
		cached = 0;
	if (cached > in)
		cached = in;
	double cin = p->cached_in_per_mtok >= 0 ? p->cached_in_per_mtok : p->in_per_mtok;
	double usd = ((double)(in - cached) * p->in_per_mtok + (double)cached * cin + (double)out * p->out_per_mtok) / 1e6;
	return to_nusd(usd * factor);
}

int64_t cost_nusd(const struct price *p, int64_t in_tokens, int64_t out_tokens)
{
	return cost_tokens(p, in_tokens, 0, out_tokens, 1.0);
}

int64_t cost_audio(const struct price *p, int64_t seconds)
{
	if (!price_bills(p, BU_AUDIO_SECONDS))
		return 0;
	return to_nusd((double)seconds * p->per_audio_hour / 3600.0);
}

int64_t cost_chars(const struct price *p, int64_t chars)
{
	if (!price_bills(p, BU_CHARS))
		return 0;
	return to_nusd((double)chars * p->per_mchar / 1e6);
}

bool money_reached(int64_t spend, int64_t budget, int pct)
{
	/* spend * 100 >= pct * budget, without overflow at any budget */
	return (__int128)spend * 100 >= (__int128)pct * budget;
}

int money_crossed(const int *pct, int n, int64_t spend, int64_t budget)
{
	int k = 0;
	while (budget > 0 && k < n && money_reached(spend, budget, pct[k]))
		k++;
	return k;
}

size_t usd_text(char out[USD_TEXT_MAX], int64_t nusd)
{
	size_t n = 0;
	uint64_t u = (uint64_t)nusd;
	if (nusd < 0) {
		out[n++] = '-';
		u = -u; /* (INT64_MIN too) */
	}
	n += i64_text(out + n, (int64_t)(u / NUSD_PER_USD));
	char frac[24];
	size_t f = i64_text(frac, (int64_t)(u % NUSD_PER_USD));
	out[n++] = '.';
	memset(out + n, '0', 9 - f);
	memcpy(out + n + 9 - f, frac, f + 1); /* (with its NUL) */
	return n + 9;
}
