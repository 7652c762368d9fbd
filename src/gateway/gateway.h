/* gateway.h — groqgated's rooms, lowest first: a room calls only the
 * rooms below it (tests/integration/layers.sh reads it from the objects).
 * Each room's header includes the one below; a module includes its own
 * room's. Reading these headers is reading the gateway's architecture
 * (see docs/architecture.md).
 *
 * Money is held as integer nano-dollars (1e-9 USD, "nusd") so that sums
 * never drift; prices are USD per million tokens, so one token of a model
 * priced P costs P*1000 nusd. */
#ifndef GG_GATEWAY_H
#define GG_GATEWAY_H

#include "core.h"    /* configuration, the organisation in memory, pure stages, money */
#include "net.h"     /* outgoing HTTP, systemd */
#include "store.h"   /* the system of record: stores, journal, ledger */
#include "record.h"  /* alerts, metrics, audit */
#include "cluster.h" /* PostgreSQL's fleet, Redis's windows */
#include "org.h"     /* models, operator input, budgets' effects, Groq's figures */
#include "data.h"    /* the request path, batches, quota */
#include "admin.h"   /* /admin/v1, rotation, showback */

#endif
