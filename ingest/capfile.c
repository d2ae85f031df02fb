/*
 * capfile.c — reads pcap and pcapng capture files, without libpcap.
 *
 * libpcap refuses a pcapng file whose interfaces differ in link type or
 * snap length (every mergecap of captures from different links), and
 * hands the unsigned 32-bit seconds of a pcap record over as a signed
 * time_t, so times from 2038-01-19T03:14:08Z on come out negative.  This
 * reader keeps each pcapng interface's own link type, snap length and time
 * resolution, and reads seconds as the unsigned field they are.
 *
 * Classic pcap (draft-ietf-opsawg-pcap; libpcap's savefile format):
 *
 *  file header, 24 bytes, in the writer's byte order:
 *  +-------------------------------+---------------+---------------+
 *  |          Magic Number         | Major Version | Minor Version |
 *  +-------------------------------+---------------+---------------+
 *  |   Reserved1 (thiszone)  | Reserved2 (sigfigs) |    SnapLen    |
 *  +-------------------------------+-------------------------------+
 *  |        LinkType (low 16 bits) and FCS information             |
 *  +---------------------------------------------------------------+
 *  Magic: 0xA1B2C3D4 microseconds, 0xA1B23C4D nanoseconds, either byte
 *  order; 0xA1B2CD34 is the "modified" format (Alexey Kuznetzov's patch),
 *  whose records carry 8 more header bytes (ifindex, protocol, packet
 *  type, padding).  Versions 2.0 to 2.4 are read, and 543.0 (DG/UX);
 *  before 2.3 (and in 543.0) the captured and original lengths are in the
 *  other order, and 2.3 files were written both ways.
 *
 *  record header, 16 bytes (24 modified):
 *  | Timestamp (seconds, unsigned) | Timestamp (µs or ns) |
 *  | Captured Packet Length        | Original Packet Length |
 *
 * pcapng (draft-ietf-opsawg-pcapng), a sequence of blocks:
 *
 *  +---------------------------------------------------------------+
 *  |                          Block Type                           |
 *  +---------------------------------------------------------------+
 *  |                      Block Total Length                       |
 *  +---------------------------------------------------------------+
 *  /                          Block Body                           /
 *  +---------------------------------------------------------------+
 *  |                      Block Total Length                       |
 *  +---------------------------------------------------------------+
 *
 *  Section Header (0x0A0D0D0A): byte-order magic 0x1A2B3C4D, version 1.0,
 *    section length, options.  Each section has its own byte order and
 *    its own interfaces.
 *  Interface Description (1): link type (16 bits), reserved, snap length,
 *    options; if_tsresol (9: 10^-n, or 2^-n with the top bit) and
 *    if_tsoffset (14: seconds added to every time) are used.
 *  Enhanced Packet (6): interface id, timestamp (high, low), captured
 *    length, original length, data padded to 32 bits, options.
 *  Simple Packet (3): original length, data; no interface id (interface
 *    0), no time (0); captured length = min(original, snap length, data).
 *  Packet (2, obsolete): interface id (16 bits), drops (16 bits), then as
 *    the Enhanced Packet block.
 *  Every other block (name resolution, interface statistics, decryption
 *    secrets, custom, journal export, ...) is skipped.
 *
 * Every length is checked against what remains, with a cursor: a block's
 * total length must be a multiple of 4, at least 12, at most
 * INGEST_CAP_MAX_BLOCK, and the same at both ends; a packet's captured
 * length at most INGEST_CAP_MAX_CAPLEN (what one stored record holds, and
 * libpcap's limit).  Gzip-compressed captures are recognised and refused
 * with a hint (libpcap does not read them either).
 */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC_US 0xA1B2C3D4u
#define PCAP_MAGIC_NS 0xA1B23C4Du
#define PCAP_MAGIC_MOD 0xA1B2CD34u
#define NG_SHB 0x0A0D0D0Au
#define NG_BOM 0x1A2B3C4Du
#define NG_IDB 1u
#define NG_OPB 2u
#define NG_SPB 3u
#define NG_EPB 6u

#define NS 1000000000ull

enum { CF_PCAP = 1, CF_PCAPNG };
enum { LEN_STRAIGHT = 0, LEN_SWAPPED, LEN_MAYBE };

struct cf_iface {
	uint16_t linktype;
	uint32_t snaplen;   /* 0: no limit */
	uint8_t resol;      /* if_tsresol as written (default 6: microseconds) */
	int64_t tsoffset;   /* if_tsoffset, seconds */
};

struct ingest_capfile {
	FILE *fp;
	uint64_t off;      /* bytes consumed */
	int kind;
	bool be;           /* fields are big-endian (pcap: the file's; pcapng: this section's) */
	/* pcap */
	bool nsec;
	uint32_t rec_hdr;
	int lengths;
	int linktype;
	/* pcapng */
	struct cf_iface *ifs;
	uint32_t nifs, cap_ifs;
	uint32_t section;  /* sections seen */
	uint64_t block_at; /* offset of the block being read */
	uint8_t *buf;
	size_t bufcap;
};

static uint16_t get16(const ingest_capfile *r, const uint8_t *p)
{
	return r->be ? tv_get_be16(p) : tv_get_le16(p);
}

static uint32_t get32(const ingest_capfile *r, const uint8_t *p)
{
	return r->be ? tv_get_be32(p) : tv_get_le32(p);
}

/* Cursor readers in the current byte order. */
static bool cur16(const ingest_capfile *r, tv_cur *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = get16(r, c->p);
	return tv_cur_skip(c, 2);
}

static bool cur32(const ingest_capfile *r, tv_cur *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = get32(r, c->p);
	return tv_cur_skip(c, 4);
}

/* Reads exactly n bytes; 1 done, 0 nothing at all (end of file), or
 * TV_E_TRUNCATED / an errno with errbuf set when fewer came. */
static int rd(ingest_capfile *r, void *dst, size_t n, const char *what, char *errbuf, size_t cap)
{
	size_t got = n ? fread(dst, 1, n, r->fp) : 0;
	r->off += got;
	if (got == n)
		return 1;
	if (ferror(r->fp)) {
		int e = errno ? errno : EIO;
		snprintf(errbuf, cap, "read error at byte offset %llu: %s", (unsigned long long)r->off,
		         strerror(e));
		return e;
	}
	if (got == 0 && what == NULL)
		return 0;
	snprintf(errbuf, cap, "the file ends inside %s: %zu of %zu bytes present",
	         what ? what : "a record", got, n);
	return TV_E_TRUNCATED;
}

static int grow(ingest_capfile *r, size_t need)
{
	size_t n = r->bufcap ? r->bufcap : 65536;
	uint8_t *b;
	if (need <= r->bufcap)
		return 0;
	while (n < need)
		n *= 2;
	b = realloc(r->buf, n);
	if (!b)
		return TV_E_NOMEM;
	r->buf = b;
	r->bufcap = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Timestamps                                                          */
/* ------------------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* A pcapng time in units of 10^-n or 2^-n seconds, plus the interface's
 * offset in seconds, as ns since the epoch (saturating: year 2554). */
static uint64_t ng_time(const struct cf_iface *ifc, uint64_t t)
{
	uint64_t ns;
	unsigned n = ifc->resol & 0x7f;

	if (ifc->resol & 0x80) {
		uint64_t sec = n >= 64 ? 0 : t >> n;
		uint64_t frac = n >= 64 ? t : t & ((1ull << n) - 1);
		unsigned sh = n;
		/* frac * 10^9 must fit 64 bits: drop precision below 2^-34 s */
		if (sh > 34) {
			frac >>= sh - 34;
			sh = 34;
		}
		ns = sat_add(sat_mul(sec, NS), (frac * NS) >> sh);
	} else {
		uint64_t p = 1;
		unsigned i;
		if (n <= 9) {
			for (i = n; i < 9; i++)
				p *= 10;
			ns = sat_mul(t, p);
		} else {
			for (i = 9; i < n; i++)
				p *= 10;
			ns = t / p;
		}
	}
	if (ifc->tsoffset > 0)
		ns = sat_add(ns, sat_mul((uint64_t)ifc->tsoffset, NS));
	else if (ifc->tsoffset < 0) {
		uint64_t back = sat_mul((uint64_t)0 - (uint64_t)ifc->tsoffset, NS);
		ns = ns > back ? ns - back : 0;
	}
	return ns;
}

/* ------------------------------------------------------------------ */
/* Classic pcap                                                        */
/* ------------------------------------------------------------------ */

static int pcap_open_hdr(ingest_capfile *r, const uint8_t m[4], char *errbuf, size_t cap)
{
	uint8_t h[24];
	uint32_t magic;
	uint16_t major, minor;
	int rc;

	memcpy(h, m, 4);
	rc = rd(r, h + 4, 20, "the 24-byte pcap file header", errbuf, cap);
	if (rc != 1)
		return rc == 0 ? TV_E_TRUNCATED : rc;
	magic = tv_get_le32(h);
	r->be = !(magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS || magic == PCAP_MAGIC_MOD);
	magic = get32(r, h);
	r->nsec = magic == PCAP_MAGIC_NS;
	r->rec_hdr = magic == PCAP_MAGIC_MOD ? 24 : 16;
	major = get16(r, h + 4);
	minor = get16(r, h + 6);
	if (!((major == 2 && minor <= 4) || (major == 543 && minor == 0))) {
		snprintf(errbuf, cap, "pcap version %u.%u; versions 2.0 to 2.4 are read", major, minor);
		return TV_E_FORMAT;
	}
	r->lengths = (major == 543 || minor < 3) ? LEN_SWAPPED : minor == 3 ? LEN_MAYBE : LEN_STRAIGHT;
	r->linktype = (int)(get32(r, h + 20) & 0xffff);
	r->kind = CF_PCAP;
	return grow(r, INGEST_CAP_MAX_CAPLEN);
}

static int pcap_next_rec(ingest_capfile *r, ingest_raw *raw, char *errbuf, size_t cap)
{
	uint8_t h[24];
	uint64_t at = r->off;
	uint32_t sec, frac, caplen, len, t;
	int rc;

	rc = rd(r, h, r->rec_hdr, NULL, errbuf, cap);
	if (rc != 1) {
		if (rc == TV_E_TRUNCATED)
			snprintf(errbuf, cap, "the file ends inside the record header at byte offset %llu",
			         (unsigned long long)at);
		return rc;
	}
	sec = get32(r, h);
	frac = get32(r, h + 4);
	caplen = get32(r, h + 8);
	len = get32(r, h + 12);
	if (r->lengths == LEN_SWAPPED || (r->lengths == LEN_MAYBE && caplen > len)) {
		t = caplen;
		caplen = len;
		len = t;
	}
	if (caplen > INGEST_CAP_MAX_CAPLEN) {
		snprintf(errbuf, cap, "the record at byte offset %llu declares %u captured bytes; at most "
		         "%u are read", (unsigned long long)at, caplen, INGEST_CAP_MAX_CAPLEN);
		return TV_E_FORMAT;
	}
	rc = rd(r, r->buf, caplen, "a packet", errbuf, cap);
	if (rc != 1) {
		if (rc == TV_E_TRUNCATED)
			snprintf(errbuf, cap, "the record at byte offset %llu declares %u captured bytes; the "
			         "file ends before them", (unsigned long long)at, caplen);
		return rc == 0 ? TV_E_TRUNCATED : rc;
	}
	/* seconds are unsigned 32-bit: good until 2106 */
	raw->ts_ns = (uint64_t)sec * NS + (r->nsec ? (uint64_t)frac : (uint64_t)frac * 1000u);
	raw->data = r->buf;
	raw->caplen = caplen;
	raw->origlen = len;
	raw->linktype = r->linktype;
	return 1;
}

/* ------------------------------------------------------------------ */
/* pcapng                                                              */
/* ------------------------------------------------------------------ */

static int ng_err(ingest_capfile *r, char *errbuf, size_t cap, const char *what)
{
	snprintf(errbuf, cap, "pcapng block at byte offset %llu: %s", (unsigned long long)r->block_at,
	         what);
	return TV_E_FORMAT;
}

/* Section Header body after the byte-order magic. */
static int ng_shb(ingest_capfile *r, tv_cur c, char *errbuf, size_t cap)
{
	uint16_t major, minor;
	if (!cur16(r, &c, &major) || !cur16(r, &c, &minor) || !tv_cur_skip(&c, 8))
		return ng_err(r, errbuf, cap, "section header shorter than 16 bytes");
	/* 1.2 was written by some old tools for what is 1.0 (libpcap reads both) */
	if (major != 1 || (minor != 0 && minor != 2)) {
		char m[96];
		snprintf(m, sizeof m, "pcapng version %u.%u; version 1.0 is read", major, minor);
		return ng_err(r, errbuf, cap, m);
	}
	r->nifs = 0; /* interfaces belong to their section */
	r->section++;
	return 0;
}

/*
 * Options (code 16, length 16, value padded to 32 bits), ended by
 * opt_endofopt (0) or the end of the body.
 */
static int ng_idb(ingest_capfile *r, tv_cur c, char *errbuf, size_t cap)
{
	struct cf_iface ifc;
	uint16_t lt, res;
	uint32_t snap;

	memset(&ifc, 0, sizeof ifc);
	if (!cur16(r, &c, &lt) || !cur16(r, &c, &res) || !cur32(r, &c, &snap))
		return ng_err(r, errbuf, cap, "interface description shorter than 8 bytes");
	ifc.linktype = lt;
	ifc.snaplen = snap;
	ifc.resol = 6;
	while (c.left >= 4) {
		uint16_t code, len;
		tv_cur v;
		cur16(r, &c, &code);
		cur16(r, &c, &len);
		if (code == 0)
			break;
		if (len > c.left)
			return ng_err(r, errbuf, cap, "an interface option runs past the block");
		v = tv_cur_make(c.p, len);
		/* the value is padded to 32 bits; a last option may lack the padding */
		if (!tv_cur_skip(&c, ((size_t)len + 3) & ~(size_t)3))
			tv_cur_skip(&c, c.left);
		if (code == 9 && len == 1) {
			uint8_t n = v.p[0];
			if ((n & 0x80) ? (n & 0x7f) > 63 : n > 19)
				return ng_err(r, errbuf, cap, "if_tsresol finer than this reader handles");
			ifc.resol = n;
		} else if (code == 14 && len == 8) {
			uint32_t a = get32(r, v.p), b = get32(r, v.p + 4);
			uint64_t u = r->be ? ((uint64_t)a << 32 | b) : ((uint64_t)b << 32 | a);
			ifc.tsoffset = (int64_t)u;
		}
	}
	if (r->nifs == r->cap_ifs) {
		uint32_t n = r->cap_ifs ? r->cap_ifs * 2 : 8;
		struct cf_iface *p;
		if (r->nifs >= INGEST_CAP_MAX_IFACES)
			return ng_err(r, errbuf, cap, "more interfaces in one section than this reader keeps");
		p = realloc(r->ifs, (size_t)n * sizeof *p);
		if (!p)
			return TV_E_NOMEM;
		r->ifs = p;
		r->cap_ifs = n;
	}
	r->ifs[r->nifs++] = ifc;
	return 0;
}

static int ng_packet(ingest_capfile *r, uint32_t type, tv_cur c, ingest_raw *raw, char *errbuf,
                     size_t cap)
{
	uint32_t ifid = 0, hi = 0, lo = 0, caplen = 0, len = 0;
	const struct cf_iface *ifc;
	char m[160];

	if (type == NG_SPB) {
		if (!cur32(r, &c, &len))
			return ng_err(r, errbuf, cap, "simple packet block shorter than 4 bytes");
	} else {
		if (type == NG_OPB) {
			uint16_t id16, drops;
			if (!cur16(r, &c, &id16) || !cur16(r, &c, &drops))
				return ng_err(r, errbuf, cap, "packet block shorter than its header");
			ifid = id16;
		} else if (!cur32(r, &c, &ifid)) {
			return ng_err(r, errbuf, cap, "enhanced packet block shorter than its header");
		}
		if (!cur32(r, &c, &hi) || !cur32(r, &c, &lo) || !cur32(r, &c, &caplen) ||
		    !cur32(r, &c, &len))
			return ng_err(r, errbuf, cap, "packet block shorter than its header");
	}
	if (ifid >= r->nifs) {
		snprintf(m, sizeof m, "a packet of interface %u, but section %u describes %u interface(s)",
		         ifid, r->section, r->nifs);
		return ng_err(r, errbuf, cap, m);
	}
	ifc = &r->ifs[ifid];
	if (type == NG_SPB) {
		caplen = len;
		if (ifc->snaplen && caplen > ifc->snaplen)
			caplen = ifc->snaplen;
		if (caplen > c.left)
			caplen = (uint32_t)c.left;
	} else if (caplen > c.left) {
		snprintf(m, sizeof m, "captured length %u runs past the block (%zu bytes left)", caplen,
		         c.left);
		return ng_err(r, errbuf, cap, m);
	}
	if (caplen > INGEST_CAP_MAX_CAPLEN) {
		snprintf(m, sizeof m, "captured length %u; at most %u are read", caplen,
		         INGEST_CAP_MAX_CAPLEN);
		return ng_err(r, errbuf, cap, m);
	}
	raw->ts_ns = type == NG_SPB ? 0 : ng_time(ifc, (uint64_t)hi << 32 | lo);
	raw->data = c.p;
	raw->caplen = caplen;
	raw->origlen = len;
	raw->linktype = ifc->linktype;
	return 1;
}

/*
 * Reads one block into r->buf.  first4 is the block type already read (by
 * open), or NULL.  Returns 1 with *type and the body, 0 at the end, or an
 * error.
 */
static int ng_block(ingest_capfile *r, const uint8_t *first4, uint32_t *type, tv_cur *body,
                    char *errbuf, size_t cap)
{
	uint8_t h[12];
	uint32_t total, trail;
	size_t hl = 8;
	int rc;

	r->block_at = r->off - (first4 ? 4 : 0);
	if (first4) {
		memcpy(h, first4, 4);
		rc = rd(r, h + 4, 4, "a block header", errbuf, cap);
	} else {
		rc = rd(r, h, 8, NULL, errbuf, cap);
	}
	if (rc != 1)
		return rc;
	if (tv_get_le32(h) == NG_SHB) {
		/* the byte-order magic decides how to read this block's length */
		rc = rd(r, h + 8, 4, "a section header", errbuf, cap);
		if (rc != 1)
			return rc == 0 ? TV_E_TRUNCATED : rc;
		if (tv_get_le32(h + 8) == NG_BOM)
			r->be = false;
		else if (tv_get_be32(h + 8) == NG_BOM)
			r->be = true;
		else
			return ng_err(r, errbuf, cap, "section header without the byte-order magic 0x1A2B3C4D");
		hl = 12;
	}
	*type = get32(r, h);
	total = get32(r, h + 4);
	if (total < hl + 4 || total % 4 != 0 || total > INGEST_CAP_MAX_BLOCK) {
		char m[96];
		snprintf(m, sizeof m, "block total length %u (a multiple of 4 from %zu to %u expected)",
		         total, hl + 4, INGEST_CAP_MAX_BLOCK);
		return ng_err(r, errbuf, cap, m);
	}
	if ((rc = grow(r, total - hl)) != 0)
		return rc;
	rc = rd(r, r->buf, total - hl, "a block", errbuf, cap);
	if (rc != 1) {
		if (rc == TV_E_TRUNCATED || rc == 0) {
			char m[96];
			snprintf(m, sizeof m, "block of %u bytes; the file ends before its end", total);
			ng_err(r, errbuf, cap, m);
			return TV_E_TRUNCATED;
		}
		return rc;
	}
	trail = get32(r, r->buf + total - hl - 4);
	if (trail != total)
		return ng_err(r, errbuf, cap, "the trailing block length differs from the leading one");
	*body = tv_cur_make(r->buf, total - hl - 4);
	return 1;
}

static int ng_next(ingest_capfile *r, ingest_raw *raw, char *errbuf, size_t cap)
{
	for (;;) {
		uint32_t type;
		tv_cur body;
		int rc = ng_block(r, NULL, &type, &body, errbuf, cap);
		if (rc != 1)
			return rc;
		rc = 0; /* blocks other than these are skipped */
		if (type == NG_SHB)
			rc = ng_shb(r, body, errbuf, cap);
		else if (r->section == 0)
			return ng_err(r, errbuf, cap, "a block before the first section header");
		else if (type == NG_IDB)
			rc = ng_idb(r, body, errbuf, cap);
		else if (type == NG_EPB || type == NG_SPB || type == NG_OPB)
			return ng_packet(r, type, body, raw, errbuf, cap);
		if (rc)
			return rc;
	}
}

/* ------------------------------------------------------------------ */
/* Object                                                              */
/* ------------------------------------------------------------------ */

int ingest_capfile_open(FILE *fp, ingest_capfile **out, char *errbuf, size_t cap)
{
	ingest_capfile *r;
	uint8_t m[4];
	uint32_t le, be, type;
	tv_cur body;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (!r)
		return TV_E_NOMEM;
	r->fp = fp;
	rc = rd(r, m, 4, NULL, errbuf, cap);
	if (rc == 0) {
		snprintf(errbuf, cap, "empty file");
		rc = TV_E_FORMAT;
	}
	if (rc != 1)
		goto fail;
	le = tv_get_le32(m);
	be = tv_get_be32(m);
	if (le == NG_SHB) {
		/* the section header comes first; then blocks are read on demand */
		r->kind = CF_PCAPNG;
		rc = ng_block(r, m, &type, &body, errbuf, cap);
		if (rc == 0)
			rc = TV_E_TRUNCATED;
		if (rc != 1)
			goto fail;
		rc = ng_shb(r, body, errbuf, cap);
	} else if (le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS || le == PCAP_MAGIC_MOD ||
	           be == PCAP_MAGIC_US || be == PCAP_MAGIC_NS || be == PCAP_MAGIC_MOD) {
		rc = pcap_open_hdr(r, m, errbuf, cap);
	} else {
		if (m[0] == 0x1f && m[1] == 0x8b)
			snprintf(errbuf, cap, "gzip-compressed; decompress it first (zcat FILE | "
			         "tapvault ingest -s STORE -r -)");
		else
			snprintf(errbuf, cap, "the first bytes %02x %02x %02x %02x are no pcap or pcapng "
			         "magic number", m[0], m[1], m[2], m[3]);
		rc = TV_E_FORMAT;
	}
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	ingest_capfile_close(r);
	return rc;
}

int ingest_capfile_next(ingest_capfile *r, ingest_raw *raw, char *errbuf, size_t cap)
{
	return r->kind == CF_PCAP ? pcap_next_rec(r, raw, errbuf, cap) : ng_next(r, raw, errbuf, cap);
}

uint64_t ingest_capfile_offset(const ingest_capfile *r)
{
	return r->off;
}

bool ingest_capfile_is_pcapng(const ingest_capfile *r)
{
	return r->kind == CF_PCAPNG;
}

void ingest_capfile_close(ingest_capfile *r)
{
	if (!r)
		return;
	free(r->ifs);
	free(r->buf);
	free(r);
}
