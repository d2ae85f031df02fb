/*
 * vnimap.c — which interface stands behind each VNI (vpc.h, "VNI map").
 *
 * A VPC Traffic Mirroring session sends the copies of one source ENI with
 * the session's VNI (AWS Traffic Mirroring guide, "Traffic mirror
 * sessions"), so the VNI is what ties a stored
 * flow to an interface.  Flow logs name that interface (interface-id) and its
 * account, VPC, subnet, instance, region and AZ, and they show the
 * interface's own address on its side of the flow (AWS, "Flow log
 * records": https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html).  This
 * file reads that knowledge from three sources:
 *
 *   - a text file, one line per VNI:  vni=42 eni=eni-0abc addr=10.0.1.5 ...
 *   - `aws ec2 describe-traffic-mirror-sessions` JSON: VNI -> ENI, account,
 *     session, filter, PacketLength;
 *   - `aws ec2 describe-network-interfaces` JSON: ENI -> VPC, subnet, AZ,
 *     instance, account and addresses;
 *
 * and learns what is still missing from the traffic: an interface without
 * addresses takes, per family, the address that appears in most of its
 * VNI's flow records.
 *
 * Storage: entries are allocated one by one (pointers stay valid until the
 * map is freed) and indexed by a pointer array sorted by VNI; maps have a
 * handful to a few thousand VNIs, at most REPORT_VNIMAP_MAX_ENTRIES.
 * Interface descriptions from describe-network-interfaces are kept apart,
 * sorted by ENI, and applied to every entry that names the ENI after each
 * load, so files can come in any order.  A load costs O(n log n): a file of
 * a million lines is refused at the limit in a fraction of a second, never
 * compared line against line.
 */
#include "vpc.h"
#include "report_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vm_ent {
	report_iface pub;
	/* learning */
	tv_addr outer;
	uint8_t outer_state;        /* 0 none seen, 1 one address, 2 several */
	uint8_t has_best[2];        /* [0] IPv4, [1] IPv6 */
	tv_addr best[2];
	uint64_t best_n[2];
};

/* One (VNI, address) count of the learning table. */
struct lcell {
	tv_addr a;
	uint32_t vni;
	uint32_t used;
	uint64_t n;
};

struct report_vnimap {
	struct vm_ent **ents;       /* sorted by vni */
	size_t n, cap;
	report_iface *enis;         /* from describe-network-interfaces, sorted by eni */
	size_t neni, capeni;
	struct lcell *lt;           /* open addressing, power-of-two size */
	size_t lcap, lused;
	int lerr;                   /* sticky TV_E_NOMEM of learning */
};

/* ------------------------------------------------------------ entries */

static size_t ent_lower(const report_vnimap *m, uint32_t vni)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->ents[mid]->pub.vni < vni)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct vm_ent *ent_find(const report_vnimap *m, uint32_t vni)
{
	size_t i = ent_lower(m, vni);
	return (i < m->n && m->ents[i]->pub.vni == vni) ? m->ents[i] : NULL;
}

static void set_name(report_iface *f)
{
	if (f->eni[0])
		snprintf(f->name, sizeof f->name, "%s", f->eni);
	else if (f->vni == TV_VNI_NONE)
		snprintf(f->name, sizeof f->name, "vni-none");
	else
		snprintf(f->name, sizeof f->name, "vni-%u", f->vni);
}

static struct vm_ent *ent_make(report_vnimap *m, uint32_t vni)
{
	size_t i = ent_lower(m, vni);
	struct vm_ent *e;
	if (i < m->n && m->ents[i]->pub.vni == vni)
		return m->ents[i];
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		struct vm_ent **p = realloc(m->ents, nc * sizeof *p);
		if (!p)
			return NULL;
		m->ents = p;
		m->cap = nc;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->pub.vni = vni;
	e->pub.learned = true;
	set_name(&e->pub);
	memmove(m->ents + i + 1, m->ents + i, (m->n - i) * sizeof *m->ents);
	m->ents[i] = e;
	m->n++;
	return e;
}

int report_vnimap_new(report_vnimap **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : TV_E_NOMEM;
}

void report_vnimap_free(report_vnimap *m)
{
	size_t i;
	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->ents[i]);
	free(m->ents);
	free(m->enis);
	free(m->lt);
	free(m);
}

size_t report_vnimap_count(const report_vnimap *m)
{
	size_t i, k = 0;
	for (i = 0; i < m->n; i++)
		k += !m->ents[i]->pub.learned;
	return k;
}

const report_iface *report_vnimap_at(const report_vnimap *m, size_t i)
{
	return i < m->n ? &m->ents[i]->pub : NULL;
}

const report_iface *report_vnimap_find(const report_vnimap *m, uint32_t vni)
{
	struct vm_ent *e = ent_find(m, vni);
	return e ? &e->pub : NULL;
}

const report_iface *report_vnimap_get(report_vnimap *m, uint32_t vni)
{
	struct vm_ent *e = ent_make(m, vni);
	return e ? &e->pub : NULL;
}

bool report_iface_has_addr(const report_iface *ifc, const tv_addr *addr)
{
	size_t i;
	for (i = 0; i < ifc->naddrs; i++)
		if (memcmp(ifc->addrs[i].b, addr->b, 16) == 0)
			return true;
	return false;
}

/* Adds a to f's list unless it is there; false when the list is full. */
static bool addr_add(report_iface *f, const tv_addr *a)
{
	if (report_iface_has_addr(f, a))
		return true;
	if (f->naddrs == REPORT_IFACE_MAX_ADDRS)
		return false;
	f->addrs[f->naddrs++] = *a;
	return true;
}

/* The first IPv4 address becomes the primary (index 0). */
static void primary_first(report_iface *f)
{
	size_t i;
	for (i = 0; i < f->naddrs; i++) {
		if (tv_addr_is_v4(&f->addrs[i])) {
			tv_addr a = f->addrs[i];
			memmove(f->addrs + 1, f->addrs, i * sizeof f->addrs[0]);
			f->addrs[0] = a;
			return;
		}
	}
}

/* Copies the non-empty values of src over dst (a later file wins). */
static void iface_override(report_iface *dst, const report_iface *src)
{
#define OVR(field) do { if (src->field[0]) memcpy(dst->field, src->field, sizeof dst->field); } while (0)
	OVR(eni);
	OVR(account);
	OVR(vpc);
	OVR(subnet);
	OVR(instance);
	OVR(region);
	OVR(az);
	OVR(session);
	OVR(filter);
#undef OVR
	if (src->packet_length)
		dst->packet_length = src->packet_length;
	if (src->naddrs) {
		memcpy(dst->addrs, src->addrs, sizeof dst->addrs);
		dst->naddrs = src->naddrs;
	}
}

/* Fills the empty values of dst from src (interface descriptions). */
static void iface_fill(report_iface *dst, const report_iface *src)
{
#define FILL(field) do { if (!dst->field[0]) memcpy(dst->field, src->field, sizeof dst->field); } while (0)
	FILL(account);
	FILL(vpc);
	FILL(subnet);
	FILL(instance);
	FILL(region);
	FILL(az);
#undef FILL
	if (!dst->naddrs && src->naddrs) {
		memcpy(dst->addrs, src->addrs, sizeof dst->addrs);
		dst->naddrs = src->naddrs;
	}
}

/* The description of an ENI in the sorted m->enis, or NULL. */
static report_iface *eni_find(const report_vnimap *m, const char *eni)
{
	size_t lo = 0, hi = m->neni;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->enis[mid].eni, eni);
		if (c == 0)
			return &m->enis[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void apply_enis(report_vnimap *m)
{
	size_t i;
	for (i = 0; i < m->n; i++) {
		report_iface *f = &m->ents[i]->pub, *d;
		if (f->eni[0] && (d = eni_find(m, f->eni)) != NULL)
			iface_fill(f, d);
	}
}

/* A staged load: nothing reaches the map until the whole file is good. */
struct stage {
	struct vm_ent **v; /* VNI entries, each its own allocation: a new VNI's
	                    * entry moves into the map as it is */
	size_t *line;      /* where each was defined (text) or its index (JSON) */
	size_t n, cap;
	report_iface *e;   /* interface descriptions */
	size_t ne, cape;
	uint8_t *seen;     /* bit per VNI staged, (REPORT_VNI_MAX + 1) / 8 bytes */
	bool seen_none;    /* vni=none staged */
	bool full;         /* a stage_*() returned NULL at its limit, not for memory */
};

/* NULL when out of memory, or (s->full) past REPORT_VNIMAP_MAX_ENTRIES. */
static report_iface *stage_vni(struct stage *s, size_t where)
{
	if (s->n >= REPORT_VNIMAP_MAX_ENTRIES) {
		s->full = true;
		return NULL;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct vm_ent **p = realloc(s->v, nc * sizeof *p);
		size_t *l;
		if (!p)
			return NULL;
		s->v = p;
		l = realloc(s->line, nc * sizeof *l);
		if (!l)
			return NULL;
		s->line = l;
		s->cap = nc;
	}
	if (!(s->v[s->n] = calloc(1, sizeof *s->v[s->n])))
		return NULL;
	s->line[s->n] = where;
	return &s->v[s->n++]->pub;
}

static report_iface *stage_eni(struct stage *s)
{
	if (s->ne >= REPORT_VNIMAP_MAX_ENTRIES) {
		s->full = true;
		return NULL;
	}
	if (s->ne == s->cape) {
		size_t nc = s->cape ? s->cape * 2 : 16;
		report_iface *p = realloc(s->e, nc * sizeof *p);
		if (!p)
			return NULL;
		s->e = p;
		s->cape = nc;
	}
	memset(&s->e[s->ne], 0, sizeof s->e[0]);
	return &s->e[s->ne++];
}

static void stage_free(struct stage *s)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->line);
	free(s->e);
	free(s->seen);
}

/*
 * Marks the VNI of the entry just staged.  Returns the earlier staged
 * entry with the same VNI, -1 when there is none, -2 out of memory.  A bit
 * per VNI: a file of many lines is not compared line against line.
 */
static long stage_dup(struct stage *s, uint32_t vni)
{
	size_t i;
	bool was;
	if (vni == TV_VNI_NONE) {
		was = s->seen_none;
		s->seen_none = true;
	} else {
		if (!s->seen && !(s->seen = calloc((REPORT_VNI_MAX + 1u) / 8u, 1)))
			return -2;
		was = (s->seen[vni >> 3] >> (vni & 7)) & 1;
		s->seen[vni >> 3] |= (uint8_t)(1u << (vni & 7));
	}
	if (!was)
		return -1;
	for (i = 0; i + 1 < s->n; i++) /* once, for the message */
		if (s->v[i]->pub.vni == vni)
			return (long)i;
	return -1;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct vm_ent *x = *(const struct vm_ent *const *)a, *y = *(const struct vm_ent *const *)b;
	return x->pub.vni < y->pub.vni ? -1 : x->pub.vni > y->pub.vni;
}

/* Staged interface descriptions in ENI order, file order among equals. */
struct eni_ord {
	const char *eni;
	size_t i;
};

static int cmp_eni_ord(const void *a, const void *b)
{
	const struct eni_ord *x = a, *y = b;
	int c = strcmp(x->eni, y->eni);
	return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

/*
 * Adds a staged file to the map: new VNIs in one sorted merge, ENI
 * descriptions merged by name (a later one overrides values of an earlier
 * one).  Every allocation comes first, so a failure leaves the map as it
 * was.  TV_E_RANGE when the map would pass REPORT_VNIMAP_MAX_ENTRIES.
 */
static int stage_commit(report_vnimap *m, struct stage *s)
{
	struct vm_ent **fresh = NULL, **ents = NULL;
	report_iface *tail = NULL, *enis = NULL;
	struct eni_ord *order = NULL;
	size_t i, k, nfresh = 0, nnew = 0, a, b, w;
	int rc = TV_E_NOMEM;

	if (s->n) {
		fresh = calloc(s->n, sizeof *fresh);
		if (!fresh)
			goto fail;
		for (i = 0; i < s->n; i++) {
			if (ent_find(m, s->v[i]->pub.vni))
				continue;
			if (m->n + nfresh >= REPORT_VNIMAP_MAX_ENTRIES) {
				rc = TV_E_RANGE;
				goto fail;
			}
			fresh[nfresh++] = s->v[i];
		}
		if (nfresh && !(ents = malloc((m->n + nfresh) * sizeof *ents)))
			goto fail;
	}
	if (s->ne) {
		order = malloc(s->ne * sizeof *order);
		tail = malloc(s->ne * sizeof *tail);
		enis = malloc((m->neni + s->ne) * sizeof *enis);
		if (!order || !tail || !enis)
			goto fail;
		for (i = 0; i < s->ne; i++) {
			order[i].eni = s->e[i].eni;
			order[i].i = i;
		}
		qsort(order, s->ne, sizeof *order, cmp_eni_ord);
	}

	/* nothing fails from here on */
	for (i = 0; i < s->n; i++) {
		struct vm_ent *e = ent_find(m, s->v[i]->pub.vni);
		if (!e)
			continue; /* new: moves in below */
		if (e->pub.learned) {
			/* a learned entry knows nothing worth keeping */
			memset(&e->pub, 0, sizeof e->pub);
			e->pub.vni = s->v[i]->pub.vni;
		}
		iface_override(&e->pub, &s->v[i]->pub);
		e->pub.learned = false;
		set_name(&e->pub);
	}
	for (i = 0; i < nfresh; i++) {
		fresh[i]->pub.learned = false;
		set_name(&fresh[i]->pub);
	}
	for (i = 0; i < s->n; i++) /* the new ones now belong to the map */
		if (!ent_find(m, s->v[i]->pub.vni))
			s->v[i] = NULL;
	if (nfresh) {
		qsort(fresh, nfresh, sizeof *fresh, cmp_ent);
		for (a = b = w = 0; a < m->n || b < nfresh;) {
			if (b == nfresh || (a < m->n && m->ents[a]->pub.vni < fresh[b]->pub.vni))
				ents[w++] = m->ents[a++];
			else
				ents[w++] = fresh[b++];
		}
		free(m->ents);
		m->ents = ents;
		m->n = m->cap = w;
	}
	free(fresh);
	if (s->ne) {
		/* each group of one ENI, in name order, goes into its existing
		 * description or a new one (tail, sorted); then one merge */
		for (i = 0; i < s->ne; i = k) {
			report_iface *d = eni_find(m, order[i].eni);
			k = i;
			if (!d) {
				tail[nnew] = s->e[order[k++].i];
				d = &tail[nnew++];
			}
			for (; k < s->ne && strcmp(order[k].eni, d->eni) == 0; k++)
				iface_override(d, &s->e[order[k].i]);
		}
		for (a = b = w = 0; a < m->neni || b < nnew;) {
			if (b == nnew || (a < m->neni && strcmp(m->enis[a].eni, tail[b].eni) < 0))
				enis[w++] = m->enis[a++];
			else
				enis[w++] = tail[b++];
		}
		free(m->enis);
		m->enis = enis;
		m->capeni = m->neni + s->ne;
		m->neni = w;
		free(order);
		free(tail);
	}
	apply_enis(m);
	return 0;
fail:
	free(fresh);
	free(ents);
	free(order);
	free(tail);
	free(enis);
	return rc;
}

/* ---------------------------------------------------------- text form */

static void errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	if (!err || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static bool value_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == '=' ||
	       c == '-';
}

/* 0, or 1 for a bad character, 2 for too long, 3 for empty. */
static int value_check(const char *v, size_t n, size_t cap)
{
	size_t i;
	if (n == 0)
		return 3;
	if (n >= cap)
		return 2;
	for (i = 0; i < n; i++)
		if (!value_char_ok(v[i]))
			return 1;
	return 0;
}

static bool parse_u32(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;
	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

enum tkey { K_VNI, K_ENI, K_ACCOUNT, K_VPC, K_SUBNET, K_INSTANCE, K_REGION, K_AZ, K_ADDR,
            K_SESSION, K_FILTER, K_PLEN, K__N };

static const struct { const char *name; int key; } tkeys[] = {
	{ "vni", K_VNI }, { "eni", K_ENI }, { "interface-id", K_ENI },
	{ "account", K_ACCOUNT }, { "account-id", K_ACCOUNT }, { "vpc", K_VPC }, { "vpc-id", K_VPC },
	{ "subnet", K_SUBNET }, { "subnet-id", K_SUBNET }, { "instance", K_INSTANCE },
	{ "instance-id", K_INSTANCE }, { "region", K_REGION }, { "az", K_AZ }, { "az-id", K_AZ },
	{ "addr", K_ADDR }, { "session", K_SESSION }, { "filter", K_FILTER },
	{ "packet-length", K_PLEN },
};

static char *key_slot(report_iface *f, int key, size_t *cap)
{
	switch (key) {
	case K_ENI: *cap = sizeof f->eni; return f->eni;
	case K_ACCOUNT: *cap = sizeof f->account; return f->account;
	case K_VPC: *cap = sizeof f->vpc; return f->vpc;
	case K_SUBNET: *cap = sizeof f->subnet; return f->subnet;
	case K_INSTANCE: *cap = sizeof f->instance; return f->instance;
	case K_REGION: *cap = sizeof f->region; return f->region;
	case K_AZ: *cap = sizeof f->az; return f->az;
	case K_SESSION: *cap = sizeof f->session; return f->session;
	case K_FILTER: *cap = sizeof f->filter; return f->filter;
	default: *cap = 0; return NULL;
	}
}

/* Parses "a,b,c" into f->addrs.  On error, bad and badlen name the address. */
static int parse_addrs(report_iface *f, const char *v, size_t n, const char **bad, size_t *badlen)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		char tmp[TV_ADDR_STRLEN];
		tv_addr a;
		while (j < n && v[j] != ',')
			j++;
		*bad = v + i;
		*badlen = j - i;
		if (j - i == 0 || j - i >= sizeof tmp)
			return TV_E_SYNTAX;
		memcpy(tmp, v + i, j - i);
		tmp[j - i] = '\0';
		if (tv_addr_parse(tmp, &a) != 0)
			return TV_E_SYNTAX;
		if (!addr_add(f, &a))
			return TV_E_FULL;
		i = j + 1;
	}
	primary_first(f);
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int load_text(struct stage *st, const char *name, const char *text, size_t len, char *err,
                     size_t cap)
{
	size_t pos = 0, lineno = 0;
	while (pos < len) {
		const char *line = text + pos;
		size_t n = 0, i = 0;
		bool seen[K__N] = { false };
		report_iface *f = NULL;
		lineno++;
		while (pos + n < len && text[pos + n] != '\n')
			n++;
		pos += n + 1;
		/* a comment: '#' at the start of a word */
		for (i = 0; i < n; i++)
			if (line[i] == '#' && (i == 0 || is_blank(line[i - 1])))
				break;
		n = i;
		i = 0;
		while (i < n) {
			const char *w, *eq, *v;
			size_t wl, kl, vl, k;
			int key = -1, rc;
			while (i < n && is_blank(line[i]))
				i++;
			if (i == n)
				break;
			w = line + i;
			while (i < n && !is_blank(line[i]))
				i++;
			wl = (size_t)(line + i - w);
			if (!f && !(f = stage_vni(st, lineno))) {
				if (!st->full)
					return TV_E_NOMEM;
				errf(err, cap, "%s:%zu: more than %d VNI entries: refused", name, lineno,
				     REPORT_VNIMAP_MAX_ENTRIES);
				return TV_E_SYNTAX;
			}
			eq = memchr(w, '=', wl);
			if (!eq) {
				errf(err, cap, "%s:%zu: expected key=value, found '%.*s'", name, lineno, (int)wl, w);
				return TV_E_SYNTAX;
			}
			kl = (size_t)(eq - w);
			v = eq + 1;
			vl = wl - kl - 1;
			for (k = 0; k < sizeof tkeys / sizeof tkeys[0]; k++)
				if (strlen(tkeys[k].name) == kl && memcmp(tkeys[k].name, w, kl) == 0)
					key = tkeys[k].key;
			if (key < 0) {
				errf(err, cap, "%s:%zu: unknown key '%.*s' (expected vni, eni, account, vpc, subnet, "
				     "instance, region, az, addr, session, filter or packet-length)",
				     name, lineno, (int)kl, w);
				return TV_E_SYNTAX;
			}
			if (seen[key]) {
				errf(err, cap, "%s:%zu: '%.*s' given twice on the line", name, lineno, (int)kl, w);
				return TV_E_SYNTAX;
			}
			seen[key] = true;
			if (key == K_VNI) {
				if (vl == 4 && memcmp(v, "none", 4) == 0) {
					f->vni = TV_VNI_NONE;
				} else if (!parse_u32(v, vl, REPORT_VNI_MAX, &f->vni)) {
					errf(err, cap, "%s:%zu: vni: expected a number from 0 to %u or 'none', found '%.*s'",
					     name, lineno, REPORT_VNI_MAX, (int)vl, v);
					return TV_E_SYNTAX;
				}
			} else if (key == K_PLEN) {
				if (!parse_u32(v, vl, 65535, &f->packet_length)) {
					errf(err, cap, "%s:%zu: packet-length: expected a number from 0 to 65535, found '%.*s'",
					     name, lineno, (int)vl, v);
					return TV_E_SYNTAX;
				}
			} else if (key == K_ADDR) {
				const char *bad = v;
				size_t badlen = vl;
				rc = parse_addrs(f, v, vl, &bad, &badlen);
				if (rc == TV_E_FULL) {
					errf(err, cap, "%s:%zu: addr: more than %d addresses", name, lineno,
					     REPORT_IFACE_MAX_ADDRS);
					return TV_E_SYNTAX;
				}
				if (rc) {
					errf(err, cap, "%s:%zu: addr: expected IPv4 or IPv6 addresses separated by commas, "
					     "found '%.*s'", name, lineno, (int)badlen, bad);
					return TV_E_SYNTAX;
				}
			} else {
				size_t scap;
				char *slot = key_slot(f, key, &scap);
				rc = value_check(v, vl, scap);
				if (rc) {
					errf(err, cap, "%s:%zu: %.*s: %s, found '%.*s'", name, lineno, (int)kl, w,
					     rc == 1 ? "expected letters, digits and . _ : / @ + = - only"
					     : rc == 2 ? "value too long" : "empty value",
					     (int)wl, w);
					return TV_E_SYNTAX;
				}
				memcpy(slot, v, vl);
				slot[vl] = '\0';
			}
		}
		if (!f)
			continue;
		if (!seen[K_VNI]) {
			errf(err, cap, "%s:%zu: the line has no vni=", name, lineno);
			return TV_E_SYNTAX;
		}
		{
			long d = stage_dup(st, f->vni);
			if (d == -2)
				return TV_E_NOMEM;
			if (d >= 0) {
				char vs[16];
				if (f->vni == TV_VNI_NONE)
					snprintf(vs, sizeof vs, "none");
				else
					snprintf(vs, sizeof vs, "%u", f->vni);
				errf(err, cap, "%s:%zu: vni %s is already defined on line %zu", name, lineno, vs,
				     st->line[d]);
				return TV_E_SYNTAX;
			}
		}
	}
	return 0;
}

/* ---------------------------------------------------------- JSON forms */

/* Copies an optional string member; false (err filled) when it is not a
 * string or does not fit. */
static bool json_str(json_t *o, const char *key, char *dst, size_t dcap, const char *name,
                     const char *path, char *err, size_t cap)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;
	int rc;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		errf(err, cap, "%s: %s.%s: expected a string", name, path, key);
		return false;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	rc = value_check(s, n, dcap);
	if (rc) {
		errf(err, cap, "%s: %s.%s: %s, found '%.*s'", name, path, key,
		     rc == 1 ? "expected letters, digits and . _ : / @ + = - only"
		     : rc == 2 ? "value too long" : "empty value",
		     (int)(n > 80 ? 80 : n), s);
		return false;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool json_addr(json_t *v, report_iface *f, const char *name, const char *path, char *err,
                      size_t cap)
{
	tv_addr a;
	if (!json_is_string(v) || tv_addr_parse(json_string_value(v), &a) != 0) {
		errf(err, cap, "%s: %s: expected an IPv4 or IPv6 address as a string", name, path);
		return false;
	}
	if (!addr_add(f, &a)) {
		errf(err, cap, "%s: %s: more than %d addresses", name, path, REPORT_IFACE_MAX_ADDRS);
		return false;
	}
	return true;
}

/* "us-east-1d" -> "us-east-1"; "us-west-2-lax-1a" -> "us-west-2": up to
 * the digits of the first dash-separated part that starts with a digit. */
static void region_of_az(const char *az, char *out, size_t cap)
{
	size_t i = 0, n = strlen(az);
	out[0] = '\0';
	while (i < n) {
		size_t j = i;
		while (j < n && az[j] != '-')
			j++;
		if (az[i] >= '0' && az[i] <= '9') {
			size_t k = i;
			while (k < j && az[k] >= '0' && az[k] <= '9')
				k++;
			if (i > 0 && k < cap)
				snprintf(out, cap, "%.*s", (int)k, az);
			return;
		}
		i = j + 1;
	}
}

static int load_sessions(struct stage *st, json_t *arr, const char *name, char *err, size_t cap)
{
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		char path[64];
		report_iface *f;
		json_t *v;
		json_int_t x;
		long d;
		snprintf(path, sizeof path, "TrafficMirrorSessions[%zu]", i);
		if (!json_is_object(o)) {
			errf(err, cap, "%s: %s: expected an object", name, path);
			return TV_E_SYNTAX;
		}
		if (!(f = stage_vni(st, i))) {
			if (!st->full)
				return TV_E_NOMEM;
			errf(err, cap, "%s: %s: more than %d sessions: refused", name, path,
			     REPORT_VNIMAP_MAX_ENTRIES);
			return TV_E_SYNTAX;
		}
		v = json_object_get(o, "VirtualNetworkId");
		if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 || x > (json_int_t)REPORT_VNI_MAX) {
			errf(err, cap, "%s: %s.VirtualNetworkId: expected an integer from 0 to %u", name, path,
			     REPORT_VNI_MAX);
			return TV_E_SYNTAX;
		}
		f->vni = (uint32_t)x;
		if ((d = stage_dup(st, f->vni)) == -2)
			return TV_E_NOMEM;
		if (d >= 0) {
			errf(err, cap, "%s: %s.VirtualNetworkId: VNI %u is also TrafficMirrorSessions[%zu]", name,
			     path, f->vni, st->line[d]);
			return TV_E_SYNTAX;
		}
		v = json_object_get(o, "PacketLength");
		if (v && !json_is_null(v)) {
			if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 || x > 65535) {
				errf(err, cap, "%s: %s.PacketLength: expected an integer from 0 to 65535", name, path);
				return TV_E_SYNTAX;
			}
			f->packet_length = (uint32_t)x;
		}
		if (!json_str(o, "NetworkInterfaceId", f->eni, sizeof f->eni, name, path, err, cap) ||
		    !json_str(o, "OwnerId", f->account, sizeof f->account, name, path, err, cap) ||
		    !json_str(o, "TrafficMirrorSessionId", f->session, sizeof f->session, name, path, err, cap) ||
		    !json_str(o, "TrafficMirrorFilterId", f->filter, sizeof f->filter, name, path, err, cap))
			return TV_E_SYNTAX;
	}
	return 0;
}

static int load_interfaces(struct stage *st, json_t *arr, const char *name, char *err, size_t cap)
{
	size_t i, k;
	json_t *o, *v, *a;
	json_array_foreach(arr, i, o) {
		char path[96], p2[256], azname[32] = "";
		report_iface *f;
		snprintf(path, sizeof path, "NetworkInterfaces[%zu]", i);
		if (!json_is_object(o)) {
			errf(err, cap, "%s: %s: expected an object", name, path);
			return TV_E_SYNTAX;
		}
		if (!(f = stage_eni(st))) {
			if (!st->full)
				return TV_E_NOMEM;
			errf(err, cap, "%s: %s: more than %d interfaces: refused", name, path,
			     REPORT_VNIMAP_MAX_ENTRIES);
			return TV_E_SYNTAX;
		}
		if (!json_str(o, "NetworkInterfaceId", f->eni, sizeof f->eni, name, path, err, cap))
			return TV_E_SYNTAX;
		if (!f->eni[0]) {
			errf(err, cap, "%s: %s.NetworkInterfaceId: missing", name, path);
			return TV_E_SYNTAX;
		}
		if (!json_str(o, "OwnerId", f->account, sizeof f->account, name, path, err, cap) ||
		    !json_str(o, "VpcId", f->vpc, sizeof f->vpc, name, path, err, cap) ||
		    !json_str(o, "SubnetId", f->subnet, sizeof f->subnet, name, path, err, cap) ||
		    !json_str(o, "AvailabilityZoneId", f->az, sizeof f->az, name, path, err, cap) ||
		    !json_str(o, "AvailabilityZone", azname, sizeof azname, name, path, err, cap))
			return TV_E_SYNTAX;
		region_of_az(azname, f->region, sizeof f->region);
		v = json_object_get(o, "Attachment");
		if (v && json_is_object(v)) {
			snprintf(p2, sizeof p2, "%s.Attachment", path);
			if (!json_str(v, "InstanceId", f->instance, sizeof f->instance, name, p2, err, cap))
				return TV_E_SYNTAX;
		}
		v = json_object_get(o, "PrivateIpAddress");
		if (v && !json_is_null(v)) {
			snprintf(p2, sizeof p2, "%s.PrivateIpAddress", path);
			if (!json_addr(v, f, name, p2, err, cap))
				return TV_E_SYNTAX;
		}
		v = json_object_get(o, "PrivateIpAddresses");
		if (json_is_array(v)) {
			/* the one marked Primary first, in case PrivateIpAddress is absent */
			int pass;
			for (pass = 0; pass < 2; pass++) {
				json_array_foreach(v, k, a) {
					json_t *pr = json_object_get(a, "Primary");
					bool prim = pr && json_is_true(pr);
					if (prim != (pass == 0))
						continue;
					snprintf(p2, sizeof p2, "%s.PrivateIpAddresses[%zu].PrivateIpAddress", path, k);
					if (!json_addr(json_object_get(a, "PrivateIpAddress"), f, name, p2, err, cap))
						return TV_E_SYNTAX;
				}
			}
		}
		v = json_object_get(o, "Ipv6Addresses");
		if (json_is_array(v)) {
			json_array_foreach(v, k, a) {
				snprintf(p2, sizeof p2, "%s.Ipv6Addresses[%zu].Ipv6Address", path, k);
				if (!json_addr(json_object_get(a, "Ipv6Address"), f, name, p2, err, cap))
					return TV_E_SYNTAX;
			}
		}
		primary_first(f);
	}
	return 0;
}

static int load_json(struct stage *st, const char *name, const char *text, size_t len, char *err,
                     size_t cap)
{
	json_error_t je;
	json_t *root = report_json_load(text, len, NULL, name, &je, err, cap), *s, *n;
	int rc = 0;
	if (!root)
		return TV_E_SYNTAX;
	s = json_object_get(root, "TrafficMirrorSessions");
	n = json_object_get(root, "NetworkInterfaces");
	if (!json_is_object(root) || (!s && !n)) {
		errf(err, cap, "%s: expected a JSON object with TrafficMirrorSessions "
		     "(describe-traffic-mirror-sessions) or NetworkInterfaces (describe-network-interfaces)", name);
		rc = TV_E_SYNTAX;
	} else if (s && !json_is_array(s)) {
		errf(err, cap, "%s: TrafficMirrorSessions: expected an array", name);
		rc = TV_E_SYNTAX;
	} else if (n && !json_is_array(n)) {
		errf(err, cap, "%s: NetworkInterfaces: expected an array", name);
		rc = TV_E_SYNTAX;
	}
	if (rc == 0 && s)
		rc = load_sessions(st, s, name, err, cap);
	if (rc == 0 && n)
		rc = load_interfaces(st, n, name, err, cap);
	json_decref(root);
	return rc;
}

int report_vnimap_load_mem(report_vnimap *m, const char *name, const char *text, size_t len,
                           char *err, size_t cap)
{
	struct stage st;
	size_t i = 0;
	int rc;
	memset(&st, 0, sizeof st);
	if (err && cap)
		err[0] = '\0';
	if (memchr(text, '\0', len)) {
		errf(err, cap, "%s: not a text file (NUL byte)", name);
		return TV_E_SYNTAX;
	}
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i < len && text[i] == '{')
		rc = load_json(&st, name, text, len, err, cap);
	else
		rc = load_text(&st, name, text, len, err, cap);
	if (rc == TV_E_NOMEM)
		errf(err, cap, "%s: out of memory", name);
	if (rc == 0) {
		rc = stage_commit(m, &st);
		if (rc == TV_E_RANGE) {
			errf(err, cap, "%s: the VNI map would hold more than %d entries: refused", name,
			     REPORT_VNIMAP_MAX_ENTRIES);
			rc = TV_E_SYNTAX;
		} else if (rc) {
			errf(err, cap, "%s: out of memory", name);
		}
	}
	stage_free(&st);
	return rc;
}

int report_vnimap_load(report_vnimap *m, const char *path, char *err, size_t cap)
{
	/* O_NONBLOCK: a FIFO given as a map must not hang the open */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), rc;
	if (fd < 0) {
		rc = errno;
		errf(err, cap, "%s: %s", path, strerror(rc));
		return rc;
	}
	return report_vnimap_load_fd(m, fd, path, err, cap);
}

int report_vnimap_load_fd(report_vnimap *m, int fd, const char *name, char *err, size_t cap)
{
	FILE *f;
	char *buf = NULL;
	size_t n = 0, bcap = 0;
	struct stat sb;
	int rc;
	rc = fstat(fd, &sb) != 0 ? errno : S_ISREG(sb.st_mode) ? 0 : TV_E_NOTREG;
	if (rc) {
		close(fd);
		errf(err, cap, "%s: %s", name, rc == TV_E_NOTREG ? "not a regular file" : strerror(rc));
		return rc;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		rc = errno;
		close(fd);
		errf(err, cap, "%s: %s", name, strerror(rc));
		return rc;
	}
	for (;;) {
		size_t got;
		if (n == bcap) {
			char *p;
			if (bcap >= (64u << 20)) {
				errf(err, cap, "%s: larger than 64 MiB: not a VNI map", name);
				rc = TV_E_SYNTAX;
				goto out;
			}
			p = realloc(buf, bcap ? bcap * 2 : 4096);
			if (!p) {
				rc = TV_E_NOMEM;
				errf(err, cap, "%s: out of memory", name);
				goto out;
			}
			buf = p;
			bcap = bcap ? bcap * 2 : 4096;
		}
		got = fread(buf + n, 1, bcap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = EIO;
		errf(err, cap, "%s: read error", name);
		goto out;
	}
	rc = report_vnimap_load_mem(m, name, buf ? buf : "", n, err, cap);
out:
	free(buf);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------ learning */

static uint64_t lhash(uint32_t vni, const tv_addr *a)
{
	return tv_hash64(a->b, 16, vni);
}

static int lt_grow(report_vnimap *m)
{
	size_t nc = m->lcap ? m->lcap * 2 : 1024, i;
	struct lcell *nt = calloc(nc, sizeof *nt);
	if (!nt)
		return TV_E_NOMEM;
	for (i = 0; i < m->lcap; i++) {
		struct lcell *c = &m->lt[i];
		size_t j;
		if (!c->used)
			continue;
		j = (size_t)lhash(c->vni, &c->a) & (nc - 1);
		while (nt[j].used)
			j = (j + 1) & (nc - 1);
		nt[j] = *c;
	}
	free(m->lt);
	m->lt = nt;
	m->lcap = nc;
	return 0;
}

static int lt_count(report_vnimap *m, uint32_t vni, const tv_addr *a)
{
	size_t j;
	if ((m->lused + 1) * 2 > m->lcap && lt_grow(m) != 0)
		return TV_E_NOMEM;
	j = (size_t)lhash(vni, a) & (m->lcap - 1);
	while (m->lt[j].used) {
		if (m->lt[j].vni == vni && memcmp(m->lt[j].a.b, a->b, 16) == 0) {
			m->lt[j].n++;
			return 0;
		}
		j = (j + 1) & (m->lcap - 1);
	}
	m->lt[j].used = 1;
	m->lt[j].vni = vni;
	m->lt[j].a = *a;
	m->lt[j].n = 1;
	m->lused++;
	return 0;
}

void report_vnimap_learn_outer(report_vnimap *m, uint32_t vni, const tv_addr *outer)
{
	struct vm_ent *e = ent_make(m, vni);
	static const tv_addr zero;
	if (!e) {
		m->lerr = TV_E_NOMEM;
		return;
	}
	if (e->pub.naddrs || memcmp(outer->b, zero.b, 16) == 0)
		return;
	if (e->outer_state == 0) {
		e->outer = *outer;
		e->outer_state = 1;
	} else if (e->outer_state == 1 && memcmp(e->outer.b, outer->b, 16) != 0) {
		e->outer_state = 2;
	}
}

void report_vnimap_learn(report_vnimap *m, uint32_t vni, const tv_addr *src, const tv_addr *dst)
{
	struct vm_ent *e = ent_make(m, vni);
	if (!e) {
		m->lerr = TV_E_NOMEM;
		return;
	}
	if (e->pub.naddrs)
		return;
	if (lt_count(m, vni, src) != 0 ||
	    (memcmp(src->b, dst->b, 16) != 0 && lt_count(m, vni, dst) != 0))
		m->lerr = TV_E_NOMEM;
}

int report_vnimap_learn_error(const report_vnimap *m)
{
	return m->lerr;
}

/* Whether (a, n) beats the current best of e in its family. */
static bool better(const struct vm_ent *e, int fam, const tv_addr *a, uint64_t n)
{
	bool a_outer, b_outer;
	if (!e->has_best[fam] || n > e->best_n[fam])
		return true;
	if (n < e->best_n[fam])
		return false;
	a_outer = e->outer_state == 1 && memcmp(a->b, e->outer.b, 16) == 0;
	b_outer = e->outer_state == 1 && memcmp(e->best[fam].b, e->outer.b, 16) == 0;
	if (a_outer != b_outer)
		return a_outer;
	return memcmp(a->b, e->best[fam].b, 16) < 0;
}

void report_vnimap_learn_finish(report_vnimap *m)
{
	size_t i;
	for (i = 0; i < m->lcap; i++) {
		struct lcell *c = &m->lt[i];
		struct vm_ent *e;
		int fam;
		if (!c->used)
			continue;
		e = ent_find(m, c->vni);
		if (!e || e->pub.naddrs)
			continue;
		fam = tv_addr_is_v4(&c->a) ? 0 : 1;
		if (better(e, fam, &c->a, c->n)) {
			e->best[fam] = c->a;
			e->best_n[fam] = c->n;
			e->has_best[fam] = 1;
		}
	}
	for (i = 0; i < m->n; i++) {
		struct vm_ent *e = m->ents[i];
		int fam;
		if (e->pub.naddrs)
			continue;
		for (fam = 0; fam < 2; fam++)
			if (e->has_best[fam])
				e->pub.addrs[e->pub.naddrs++] = e->best[fam];
	}
	free(m->lt);
	m->lt = NULL;
	m->lcap = m->lused = 0;
	m->lerr = 0;
}
