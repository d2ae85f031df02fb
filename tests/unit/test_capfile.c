/*
 * test_capfile.c — the pcap / pcapng reader (ingest/capfile.c): the four
 * classic magics in both byte orders, the modified record header, old
 * versions with swapped lengths, unsigned seconds past 2038; pcapng
 * sections in both byte orders, interfaces with their own link type, snap
 * length, if_tsresol and if_tsoffset, enhanced / simple / obsolete packet
 * blocks, skipped blocks, and every reject.  Files are built in memory and
 * read through fmemopen(), as a pipe would be read.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/ingest.h"

typedef struct buf {
	uint8_t b[1 << 16];
	size_t n;
	bool be;
} buf;

static void put(buf *f, const void *p, size_t n)
{
	cr_assert(f->n + n <= sizeof f->b);
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void u8(buf *f, uint8_t v) { put(f, &v, 1); }

static void u16(buf *f, uint16_t v)
{
	uint8_t b[2];
	if (f->be)
		tv_put_be16(b, v);
	else
		tv_put_le16(b, v);
	put(f, b, 2);
}

static void u32(buf *f, uint32_t v)
{
	uint8_t b[4];
	if (f->be)
		tv_put_be32(b, v);
	else
		tv_put_le32(b, v);
	put(f, b, 4);
}

static void u64(buf *f, uint64_t v)
{
	if (f->be) {
		u32(f, (uint32_t)(v >> 32));
		u32(f, (uint32_t)v);
	} else {
		u32(f, (uint32_t)v);
		u32(f, (uint32_t)(v >> 32));
	}
}

static void pad4(buf *f)
{
	while (f->n % 4)
		u8(f, 0);
}

/* Reads every packet of f; returns the count, fills the first 8, and the
 * final return code in *end. */
static int read_all(const buf *f, ingest_raw *out, uint8_t data[8][64], int *end, char *err,
                    size_t cap)
{
	FILE *fp = fmemopen((void *)f->b, f->n, "rb");
	ingest_capfile *r = NULL;
	ingest_raw raw;
	int n = 0, rc;
	cr_assert_not_null(fp);
	rc = ingest_capfile_open(fp, &r, err, cap);
	if (rc) {
		*end = rc;
		fclose(fp);
		return -1;
	}
	while ((rc = ingest_capfile_next(r, &raw, err, cap)) == 1) {
		if (n < 8) {
			out[n] = raw;
			memcpy(data[n], raw.data, raw.caplen < 64 ? raw.caplen : 64);
		}
		n++;
	}
	*end = rc;
	cr_assert_leq(ingest_capfile_offset(r), f->n);
	ingest_capfile_close(r);
	fclose(fp);
	return n;
}

/* ------------------------------------------------------------------ */
/* Classic pcap                                                        */
/* ------------------------------------------------------------------ */

static void pcap_hdr(buf *f, uint32_t magic, uint16_t maj, uint16_t min, uint32_t snap, uint32_t lt)
{
	u32(f, magic);
	u16(f, maj);
	u16(f, min);
	u32(f, 0);
	u32(f, 0);
	u32(f, snap);
	u32(f, lt);
}

static void pcap_rec(buf *f, uint32_t sec, uint32_t frac, const uint8_t *d, uint32_t cap,
                     uint32_t len)
{
	u32(f, sec);
	u32(f, frac);
	u32(f, cap);
	u32(f, len);
	put(f, d, cap);
}

static const uint8_t PKT[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };

Test(capfile, pcap_four_magics_both_orders)
{
	static const struct { uint32_t magic; bool be; uint64_t frac_ns; } cases[] = {
		{ 0xA1B2C3D4u, false, 500000000 }, { 0xA1B2C3D4u, true, 500000000 },
		{ 0xA1B23C4Du, false, 500000 },    { 0xA1B23C4Du, true, 500000 },
	};
	size_t i;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		static buf f;
		ingest_raw raw[8];
		uint8_t data[8][64];
		char err[256];
		int end;
		memset(&f, 0, sizeof f);
		f.be = cases[i].be;
		pcap_hdr(&f, cases[i].magic, 2, 4, 65535, 1);
		pcap_rec(&f, 1700000000, 500000, PKT, 20, 60);
		cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1, "case %zu: %s", i, err);
		cr_assert_eq(end, 0);
		cr_assert_eq(raw[0].ts_ns, 1700000000ull * 1000000000ull + cases[i].frac_ns);
		cr_assert_eq(raw[0].caplen, 20);
		cr_assert_eq(raw[0].origlen, 60);
		cr_assert_eq(raw[0].linktype, 1);
		cr_assert(memcmp(data[0], PKT, 20) == 0);
	}
}

Test(capfile, pcap_seconds_are_unsigned)
{
	/* 2^31 - 1 and 2^31 seconds: 2038-01-19T03:14:07.5Z and 03:14:08.5Z */
	static buf f;
	ingest_raw raw[8];
	uint8_t data[8][64];
	char err[256];
	int end;
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 4, 65535, 1);
	pcap_rec(&f, 2147483647u, 500000, PKT, 20, 20);
	pcap_rec(&f, 2147483648u, 500000, PKT, 20, 20);
	pcap_rec(&f, 4294967295u, 999999, PKT, 20, 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 3);
	cr_assert_eq(raw[0].ts_ns, 2147483647500000000ull);
	cr_assert_eq(raw[1].ts_ns, 2147483648500000000ull);
	cr_assert_eq(raw[2].ts_ns, 4294967295999999000ull);
}

Test(capfile, pcap_modified_format_and_old_versions)
{
	static buf f;
	ingest_raw raw[8];
	uint8_t data[8][64];
	char err[256];
	int end;
	/* modified (Kuznetzov) magic: 8 more header bytes per record */
	pcap_hdr(&f, 0xA1B2CD34u, 2, 4, 65535, 113);
	u32(&f, 1);
	u32(&f, 2);
	u32(&f, 20);
	u32(&f, 20);
	u32(&f, 7);   /* ifindex */
	u16(&f, 0x800);
	u8(&f, 0);
	u8(&f, 0);
	put(&f, PKT, 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1, "%s", err);
	cr_assert_eq(raw[0].linktype, 113);
	cr_assert(memcmp(data[0], PKT, 20) == 0);

	/* version 2.2: captured and original lengths in the other order */
	memset(&f, 0, sizeof f);
	f.be = true;
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 2, 65535, 1);
	u32(&f, 1);
	u32(&f, 0);
	u32(&f, 100); /* original */
	u32(&f, 20);  /* captured */
	put(&f, PKT, 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1, "%s", err);
	cr_assert_eq(raw[0].caplen, 20);
	cr_assert_eq(raw[0].origlen, 100);

	/* 2.3 was written both ways: captured > original means swapped */
	memset(&f, 0, sizeof f);
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 3, 65535, 1);
	u32(&f, 1);
	u32(&f, 0);
	u32(&f, 100);
	u32(&f, 20);
	put(&f, PKT, 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1, "%s", err);
	cr_assert_eq(raw[0].caplen, 20);

	/* link type: the low 16 bits (the rest is FCS information) */
	memset(&f, 0, sizeof f);
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 4, 65535, 0x10000000u | 1);
	pcap_rec(&f, 1, 0, PKT, 20, 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1);
	cr_assert_eq(raw[0].linktype, 1);
}

Test(capfile, pcap_rejects)
{
	static buf f;
	ingest_raw raw[8];
	uint8_t data[8][64];
	char err[256];
	int end;

	put(&f, "hello", 5);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert_eq(end, TV_E_FORMAT);
	cr_assert(strstr(err, "68 65 6c 6c"), "%s", err);

	memset(&f, 0, sizeof f);
	put(&f, "\x1f\x8b\x08\x00", 4);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert(strstr(err, "gzip"), "%s", err);

	memset(&f, 0, sizeof f);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert_eq(end, TV_E_FORMAT);

	memset(&f, 0, sizeof f);
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 4, 65535, 1);
	f.n = 20;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert_eq(end, TV_E_TRUNCATED);

	memset(&f, 0, sizeof f);
	pcap_hdr(&f, 0xA1B2C3D4u, 3, 0, 65535, 1);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert(strstr(err, "version 3.0"), "%s", err);

	/* a record cut short, then one cut in its header */
	memset(&f, 0, sizeof f);
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 4, 65535, 1);
	pcap_rec(&f, 1, 0, PKT, 20, 20);
	pcap_rec(&f, 2, 0, PKT, 20, 20);
	f.n -= 5;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1);
	cr_assert_eq(end, TV_E_TRUNCATED);
	cr_assert(strstr(err, "byte offset 60"), "%s", err);
	f.n = 24 + 36 + 10;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1);
	cr_assert_eq(end, TV_E_TRUNCATED);

	/* a captured length beyond what one record holds */
	memset(&f, 0, sizeof f);
	pcap_hdr(&f, 0xA1B2C3D4u, 2, 4, 65535, 1);
	u32(&f, 1);
	u32(&f, 0);
	u32(&f, INGEST_CAP_MAX_CAPLEN + 1);
	u32(&f, INGEST_CAP_MAX_CAPLEN + 1);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);
}

/* ------------------------------------------------------------------ */
/* pcapng                                                              */
/* ------------------------------------------------------------------ */

static void ng_shb(buf *f)
{
	u32(f, 0x0A0D0D0Au);
	u32(f, 28);
	u32(f, 0x1A2B3C4Du);
	u16(f, 1);
	u16(f, 0);
	u64(f, UINT64_MAX);
	u32(f, 28);
}

/* IDB with optional if_tsresol (resol >= 0) and if_tsoffset (off != 0). */
static void ng_idb(buf *f, uint16_t lt, uint32_t snap, int resol, int64_t off)
{
	uint32_t len = 20 + (resol >= 0 ? 8 : 0) + (off ? 12 : 0) + 4;
	u32(f, 1);
	u32(f, len);
	u16(f, lt);
	u16(f, 0);
	u32(f, snap);
	if (resol >= 0) {
		u16(f, 9);
		u16(f, 1);
		u8(f, (uint8_t)resol);
		pad4(f);
	}
	if (off) {
		u16(f, 14);
		u16(f, 8);
		u64(f, (uint64_t)off);
	}
	u16(f, 0);
	u16(f, 0);
	u32(f, len);
}

static void ng_epb(buf *f, uint32_t ifid, uint64_t ts, const uint8_t *d, uint32_t cap, uint32_t len)
{
	uint32_t total = 32 + ((cap + 3) & ~3u);
	u32(f, 6);
	u32(f, total);
	u32(f, ifid);
	u32(f, (uint32_t)(ts >> 32));
	u32(f, (uint32_t)ts);
	u32(f, cap);
	u32(f, len);
	put(f, d, cap);
	pad4(f);
	u32(f, total);
}

static void ng_other(buf *f, uint32_t type, uint32_t bodylen)
{
	uint32_t i;
	u32(f, type);
	u32(f, 12 + bodylen);
	for (i = 0; i < bodylen; i++)
		u8(f, 0xee);
	u32(f, 12 + bodylen);
}

Test(capfile, pcapng_interfaces_differ_in_link_type_and_snaplen)
{
	/* what mergecap writes for an Ethernet and a Linux cooked capture with
	 * different snap lengths: libpcap refuses it, every packet is read here */
	static buf f;
	ingest_raw raw[8];
	uint8_t data[8][64];
	char err[256];
	int end;
	ng_shb(&f);
	ng_idb(&f, 1, 65535, -1, 0);
	ng_idb(&f, 113, 96, 9, 0);
	ng_other(&f, 4, 8);            /* name resolution */
	ng_epb(&f, 0, 1700000000123456ull, PKT, 20, 20);
	ng_epb(&f, 1, 1700000000123456789ull, PKT, 17, 1500);
	ng_other(&f, 5, 16);           /* interface statistics */
	ng_other(&f, 0x40000BADu, 4);  /* custom */
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 2, "%s", err);
	cr_assert_eq(end, 0, "%s", err);
	cr_assert_eq(raw[0].linktype, 1);
	cr_assert_eq(raw[0].ts_ns, 1700000000123456000ull);
	cr_assert_eq(raw[1].linktype, 113);
	cr_assert_eq(raw[1].ts_ns, 1700000000123456789ull);
	cr_assert_eq(raw[1].caplen, 17);
	cr_assert_eq(raw[1].origlen, 1500);
	cr_assert(memcmp(data[1], PKT, 17) == 0);
}

Test(capfile, pcapng_sections_byte_orders_resolutions)
{
	static buf f;
	ingest_raw raw[8];
	uint8_t data[8][64];
	char err[256];
	int end;
	/* section 1, big-endian: 2^-10 s units, offset +100 s */
	f.be = true;
	ng_shb(&f);
	ng_idb(&f, 101, 0, 0x80 | 10, 100);
	ng_epb(&f, 0, (5ull << 10) | 512, PKT, 20, 20);
	/* section 2, little-endian: interfaces start over; ms units, offset -1 s */
	f.be = false;
	ng_shb(&f);
	ng_idb(&f, 228, 0, 3, -1);
	ng_epb(&f, 0, 2500, PKT, 20, 20);
	/* simple packet block: interface 0, no time, snap length applies */
	ng_idb(&f, 1, 8, -1, 0);
	u32(&f, 3);
	u32(&f, 16 + 20);
	u32(&f, 20);
	put(&f, PKT, 20);
	u32(&f, 16 + 20);
	/* obsolete packet block on interface 1 (Ethernet, µs) */
	u32(&f, 2);
	u32(&f, 32 + 20);
	u16(&f, 1);
	u16(&f, 0);
	u32(&f, 0);
	u32(&f, 7000001);
	u32(&f, 20);
	u32(&f, 20);
	put(&f, PKT, 20);
	u32(&f, 32 + 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 4, "%s", err);
	cr_assert_eq(end, 0, "%s", err);
	cr_assert_eq(raw[0].linktype, 101);
	cr_assert_eq(raw[0].ts_ns, 105500000000ull);
	cr_assert_eq(raw[1].linktype, 228);
	cr_assert_eq(raw[1].ts_ns, 1500000000ull);
	cr_assert_eq(raw[2].linktype, 228, "SPB: interface 0 of its section");
	cr_assert_eq(raw[2].ts_ns, 0);
	cr_assert_eq(raw[2].caplen, 20);
	cr_assert_eq(raw[3].linktype, 1);
	cr_assert_eq(raw[3].ts_ns, 7000001000ull);
}

Test(capfile, pcapng_time_resolutions)
{
	/* nanosecond units, picoseconds, and 2^-40: all end in ns */
	static const struct { int resol; uint64_t t; uint64_t ns; } cases[] = {
		{ 9, 1700000000123456789ull, 1700000000123456789ull },
		{ 12, 1700000000123456789ull, 1700000000123456ull },
		{ 0, 3, 3000000000ull },
		{ 0x80 | 40, (3ull << 40) | (1ull << 39), 3500000000ull },
		{ 0x80, 2, 2000000000ull },
	};
	size_t i;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		static buf f;
		ingest_raw raw[8];
		uint8_t data[8][64];
		char err[256];
		int end;
		memset(&f, 0, sizeof f);
		ng_shb(&f);
		ng_idb(&f, 1, 0, cases[i].resol, 0);
		ng_epb(&f, 0, cases[i].t, PKT, 20, 20);
		cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 1, "%s", err);
		cr_assert_eq(raw[0].ts_ns, cases[i].ns, "case %zu: %llu", i,
		             (unsigned long long)raw[0].ts_ns);
	}
}

Test(capfile, pcapng_rejects)
{
	static buf f;
	ingest_raw raw[8];
	uint8_t data[8][64];
	char err[256];
	int end;

	/* a packet of an interface the section does not describe */
	ng_shb(&f);
	ng_idb(&f, 1, 0, -1, 0);
	ng_epb(&f, 3, 1, PKT, 20, 20);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);
	cr_assert(strstr(err, "interface 3"), "%s", err);

	/* trailing length differs */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	ng_idb(&f, 1, 0, -1, 0);
	ng_epb(&f, 0, 1, PKT, 20, 20);
	f.b[f.n - 1] = 0x77;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);
	cr_assert(strstr(err, "trailing"), "%s", err);

	/* a total length that is no multiple of 4 */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	u32(&f, 1);
	u32(&f, 21);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);
	cr_assert(strstr(err, "byte offset 28"), "%s", err);

	/* captured length past the block */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	ng_idb(&f, 1, 0, -1, 0);
	ng_epb(&f, 0, 1, PKT, 20, 20);
	tv_put_le32(f.b + 28 + 24 + 20, 200);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);

	/* the file ends inside a block */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	ng_idb(&f, 1, 0, -1, 0);
	ng_epb(&f, 0, 1, PKT, 20, 20);
	f.n -= 6;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_TRUNCATED);

	/* section header: no byte-order magic; version 2.0 */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	f.b[8] = 0;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert_eq(end, TV_E_FORMAT);
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	f.b[12] = 2;
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), -1);
	cr_assert(strstr(err, "version 2.0"), "%s", err);

	/* an option that runs past its block, an impossible if_tsresol */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	ng_idb(&f, 1, 0, 0x80 | 64, 0);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	ng_idb(&f, 1, 0, 6, 0);
	tv_put_le16(f.b + 28 + 16 + 2, 200);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, TV_E_FORMAT);

	/* an empty pcapng (only a section header) is fine */
	memset(&f, 0, sizeof f);
	ng_shb(&f);
	cr_assert_eq(read_all(&f, raw, data, &end, err, sizeof err), 0);
	cr_assert_eq(end, 0);
}
