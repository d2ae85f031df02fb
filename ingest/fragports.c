/*
 * fragports.c — ports for later IP fragments.
 *
 * A later fragment (offset > 0) carries no L4 header, so it has no ports.
 * Flow records count such fragments in the flow of their datagram, so every
 * reader of packets must attribute them the same way: decapsulation while
 * ingesting, and queries over stored frames.  The table remembers the ports
 * of each first fragment under (addresses, protocol, IP identification,
 * VNI) and gives them to the later fragments of the same datagram.  Two
 * mirror sessions (VNIs) never share an entry.
 *
 * FRAG_SETS sets of FRAG_WAYS entries, least recently used replaced within
 * a set; the key is hashed with a random seed so that crafted fragment ids
 * cannot aim at one set.  Fixed size: nothing is allocated per packet, and a
 * collision only loses an attribution.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#define FRAG_SETS 1024u
#define FRAG_WAYS 4u

struct frag_key {
	tv_addr src;
	tv_addr dst;
	uint32_t id;  /* IPv4 identification or IPv6 fragment id */
	uint32_t vni;
	uint8_t proto;
	uint8_t pad[3];
};

struct frag_ent {
	struct frag_key k;
	uint16_t sport;
	uint16_t dport;
	uint32_t pad;
	uint64_t used; /* LRU clock; 0 = empty */
};

struct ingest_fragports {
	uint64_t seed;
	uint64_t clock;
	struct frag_ent ent[FRAG_SETS * FRAG_WAYS];
};

int ingest_fragports_new(ingest_fragports **out)
{
	ingest_fragports *t = calloc(1, sizeof *t);
	*out = t;
	if (!t)
		return TV_E_NOMEM;
	t->seed = tv_hash_seed();
	return 0;
}

void ingest_fragports_free(ingest_fragports *t)
{
	free(t);
}

static struct frag_ent *frag_set(const ingest_fragports *t, const struct frag_key *k)
{
	uint64_t h = tv_hash64(k, sizeof *k, t->seed);
	return (struct frag_ent *)&t->ent[(h & (FRAG_SETS - 1)) * FRAG_WAYS];
}

static void frag_remember(ingest_fragports *t, const struct frag_key *k, uint16_t sport,
                          uint16_t dport)
{
	struct frag_ent *set = frag_set(t, k);
	struct frag_ent *victim = &set[0];
	unsigned i;
	for (i = 0; i < FRAG_WAYS; i++) {
		if (set[i].used != 0 && memcmp(&set[i].k, k, sizeof *k) == 0) {
			victim = &set[i];
			break;
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	victim->k = *k;
	victim->sport = sport;
	victim->dport = dport;
	victim->used = ++t->clock;
}

static bool frag_lookup(ingest_fragports *t, const struct frag_key *k, uint16_t *sport,
                        uint16_t *dport)
{
	struct frag_ent *set = frag_set(t, k);
	unsigned i;
	for (i = 0; i < FRAG_WAYS; i++) {
		if (set[i].used != 0 && memcmp(&set[i].k, k, sizeof *k) == 0) {
			*sport = set[i].sport;
			*dport = set[i].dport;
			set[i].used = ++t->clock;
			return true;
		}
	}
	return false;
}

enum ingest_frag_res ingest_fragports_apply(ingest_fragports *t, uint32_t vni, tv_l3info *info)
{
	struct frag_key k;

	if (!t || info->l3 == 0 || info->frag == TV_FRAG_NONE)
		return INGEST_FRAG_NONE;
	memset(&k, 0, sizeof k);
	k.src = info->key.src;
	k.dst = info->key.dst;
	k.id = info->frag_id;
	k.vni = vni;
	k.proto = info->key.proto;
	if (info->frag == TV_FRAG_FIRST) {
		if (!info->has_ports)
			return INGEST_FRAG_NONE;
		frag_remember(t, &k, info->key.sport, info->key.dport);
		return INGEST_FRAG_KEPT;
	}
	if (info->has_ports)
		return INGEST_FRAG_NONE;
	if (!frag_lookup(t, &k, &info->key.sport, &info->key.dport))
		return INGEST_FRAG_UNKNOWN;
	info->has_ports = 1;
	return INGEST_FRAG_ATTRIBUTED;
}
