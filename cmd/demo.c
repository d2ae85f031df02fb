/*
 * demo.c — `tapvault demo [DIR]`: the whole story on generated traffic.
 *
 * Generates a mirrored-traffic scenario with the project's generator (linked
 * in from testdata/gen.c and run in a child process), then runs the real
 * subcommands on it, printing each as the command a user would type.
 */
#include "cmd.h"
#include "../ingest/tvfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tvgen_main(int argc, char **argv); /* testdata/gen.c built with -DTVGEN_LIB */

#define DEMO_MARK ".tapvault-demo"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault demo [DIR]\n"
	        "\n"
	        "Generates a realistic AWS Traffic Mirroring capture (four mirror sessions:\n"
	        "web, DNS, SSH, TLS, a port scan, a cleartext credential, SSH on port 443,\n"
	        "IPv6, fragments, a truncating session) and the VPC Flow Log the VPC would\n"
	        "have delivered, with deliberate disagreements; then ingests, queries, writes\n"
	        "flow records (also in the S3 layout), audits the flow log (HTML and JSON\n"
	        "reports), exports a case bundle, verifies it and the store, and shows the\n"
	        "custody log, printing each step as the command you would type.  Everything\n"
	        "goes into DIR (default ./demo-out), which is emptied first if an earlier\n"
	        "demo made it.\n"
	        "\n"
	        "options:\n"
	        "  -h, --help   this help\n");
}

static int run_generator(char **args)
{
	pid_t pid;
	int st, n = 0;
	fflush(NULL);
	while (args[n])
		n++;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		_exit(tvgen_main(n, args));
	}
	if (waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : TV_E_IO;
}

/* Prints "$ tapvault ..." and runs the subcommand in this process. */
static int step(const char *title, int (*fn)(int, char **), int argc, ...)
{
	char *argv[32];
	va_list ap;
	int i, rc;
	va_start(ap, argc);
	for (i = 0; i < argc && i < 31; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	printf("\n# %s\n$ tapvault", title);
	for (i = 0; i < argc; i++) {
		/* quoted so that the line pasted into a shell runs this command and
		 * nothing else: inside '...' only ' itself needs care */
		const char *a = argv[i];
		if (a[0] && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		                      "_./:=,+-@%") == strlen(a)) {
			printf(" %s", a);
			continue;
		}
		fputs(" '", stdout);
		for (; *a; a++) {
			if (*a == '\'')
				fputs("'\\''", stdout);
			else
				putchar(*a);
		}
		fputs("'", stdout);
	}
	printf("\n");
	fflush(stdout);
	rc = fn(argc, argv);
	fflush(stdout);
	return rc;
}

/* What an earlier demo wrote into DIR, and so what the next one removes. */
static bool demo_output(const char *name)
{
	static const char *const suffix[] = { ".pcap", ".csv", ".log", ".json", ".txt", ".html",
		                              ".tar.zst" };
	size_t i, n = strlen(name);
	if (name[0] == '.')
		return false;
	if (strcmp(name, "store") == 0 || strcmp(name, "s3") == 0)
		return true;
	for (i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		size_t k = strlen(suffix[i]);
		if (n > k && strcmp(name + n - k, suffix[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Makes DIR ready: created when absent; emptied of an earlier demo's output
 * when an earlier demo marked it; refused (EEXIST) when it holds anything
 * else.  Removal walks through descriptors (tv_rmtree_at): DIR's name is
 * never handed to a shell, and a link inside is removed, never followed.
 */
static int clear_dir(const char *dir)
{
	struct stat st;
	struct dirent *e;
	tv_outfile o;
	DIR *d;
	int dfd, rc = 0;
	bool marked;
	static const char mark[] = "made by tapvault demo; the next demo run empties this folder\n";

	tv_outfile_init(&o);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	rc = tv_dir_open(AT_FDCWD, dir, TV_DIR_FOLLOW, 0, &dfd, NULL);
	if (rc)
		return rc;
	marked = fstatat(dfd, DEMO_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	d = fdopendir(dfd);
	if (!d) {
		rc = errno;
		close(dfd);
		return rc;
	}
	/* only a folder an earlier demo made and marked is emptied */
	while (!rc && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, DEMO_MARK) == 0)
			continue;
		if (!marked)
			rc = EEXIST;
		else if (demo_output(e->d_name))
			rc = tv_rmtree_at(dirfd(d), e->d_name, NULL);
	}
	if (!rc)
		rc = tv_outfile_openat(&o, dirfd(d), DEMO_MARK, 0600, TV_OUT_REPLACE);
	if (!rc) {
		errno = 0;
		if (write(o.fd, mark, sizeof mark - 1) != (ssize_t)(sizeof mark - 1))
			rc = errno ? errno : TV_E_IO;
	}
	if (!rc)
		rc = tv_outfile_commit(&o, NULL);
	else
		tv_outfile_abort(&o);
	closedir(d);
	return rc;
}

/*
 * Reads the generator's ground truth and picks what the demo shows: the
 * flow of SSH spoken on port 443, and the host with the busiest SSH flow on
 * port 22 (the values depend on the seed, so they are not hard-coded).
 * CSV: vni,outer_src,src,dst,sport,dport,proto,packets,...,app
 */
static int pick_flows(const char *truth, char *ssh443, size_t c1, char *sshhost, size_t c2)
{
	char line[1024];
	unsigned long long best = 0;
	FILE *f = fopen(truth, "r");
	ssh443[0] = sshhost[0] = '\0';
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *col[16], *save = NULL, *t;
		int n = 0;
		for (t = strtok_r(line, ",\n", &save); t && n < 16; t = strtok_r(NULL, ",\n", &save))
			col[n++] = t;
		if (n < 14 || strcmp(col[13], "ssh") != 0 || strcmp(col[6], "6") != 0)
			continue;
		if (!ssh443[0] && strcmp(col[5], "443") == 0)
			snprintf(ssh443, c1, "vni %s and host %s and host %s and port 443", col[0], col[2], col[3]);
		if (strcmp(col[5], "22") == 0 && strtoull(col[7], NULL, 10) > best) {
			best = strtoull(col[7], NULL, 10);
			snprintf(sshhost, c2, "host %s and port 22", col[3]);
		}
	}
	fclose(f);
	return ssh443[0] && sshhost[0] ? 0 : -1;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "demo-out";
	char store[4096], mirror[4096], inner[4096], truth[4096], sshp[4096], flowlog[4096],
	        vnimap[4096], filters[4096], sessions[4096], atruth[4096], html[4096], ajson[4096],
	        bundle[4096], s3[4096];
	char ssh443[128], sshhost[64];
	int c, rc;
	uint64_t t0 = tv_clock_mono_ns();

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		dir = argv[optind];
	rc = clear_dir(dir);
	if (rc) {
		cmd_err("demo", "%s: %s", dir,
		        rc == EEXIST ? "folder exists and was not made by an earlier demo; "
		                       "name an empty or new folder"
		                     : tv_strerror(rc));
		return EXIT_USAGE;
	}
	snprintf(store, sizeof store, "%s/store", dir);
	snprintf(mirror, sizeof mirror, "%s/mirror.pcap", dir);
	snprintf(inner, sizeof inner, "%s/inner.pcap", dir);
	snprintf(truth, sizeof truth, "%s/truth.csv", dir);
	snprintf(sshp, sizeof sshp, "%s/ssh.pcap", dir);
	snprintf(flowlog, sizeof flowlog, "%s/vpc-flow-log.log", dir);
	snprintf(vnimap, sizeof vnimap, "%s/vnimap.txt", dir);
	snprintf(filters, sizeof filters, "%s/mirror-filters.json", dir);
	snprintf(sessions, sizeof sessions, "%s/mirror-sessions.json", dir);
	snprintf(atruth, sizeof atruth, "%s/audit-truth.csv", dir);
	snprintf(html, sizeof html, "%s/audit.html", dir);
	snprintf(ajson, sizeof ajson, "%s/audit.json", dir);
	snprintf(bundle, sizeof bundle, "%s/case-demo.tar.zst", dir);
	snprintf(s3, sizeof s3, "%s/s3", dir);

	printf("# 1. generating a mirrored capture as an AWS mirror target receives it\n"
	       "#    (VXLAN on UDP 4789, 4 sessions / VNIs, ~15 minutes of traffic)\n");
	{
		char g0[] = "tv-gen", g1[] = "--seed", g2[] = "42", g3[] = "--outer", g5[] = "--inner",
		     g7[] = "--truth", g9[] = "--flowlog", g11[] = "--vni-map", g13[] = "--mirror-filters",
		     g15[] = "--mirror-sessions", g17[] = "--audit-truth";
		char *gargs[] = { g0, g1, g2, g3, mirror, g5, inner, g7, truth, g9, flowlog, g11, vnimap,
		                  g13, filters, g15, sessions, g17, atruth, NULL };
		rc = run_generator(gargs);
		if (rc) {
			cmd_err("demo", "the traffic generator failed");
			return EXIT_FAILURE;
		}
	}
	printf("#    wrote %s (outer), %s (decapsulated reference) and %s (ground truth per flow)\n",
	       mirror, inner, truth);

	if (pick_flows(truth, ssh443, sizeof ssh443, sshhost, sizeof sshhost) != 0) {
		cmd_err("demo", "%s: the ground truth has no SSH flows to show", truth);
		return EXIT_FAILURE;
	}
	if ((rc = step("2. ingest: strip the tunnel, compress, index, and keep 60 s flow records",
	               cmd_ingest, 7, "ingest", "-s", store, "-r", mirror, "--flow-interval", "60")) != 0)
		return rc;
	if ((rc = step("3. what is in the store", cmd_stats, 3, "stats", "-s", store)) != 0)
		return rc;
	if ((rc = step("4. SSH spoken on port 443 (a flow log would call it HTTPS)", cmd_query, 6,
	               "query", "-s", store, "-c", "6", ssh443)) != 0)
		return rc;
	if ((rc = step("5. every packet of one host's SSH sessions, as a pcap for Wireshark", cmd_query,
	               6, "query", "-s", store, sshhost, "-w", sshp)) != 0)
		return rc;
	if ((rc = step("6. how many DNS packets the instances exchanged", cmd_query, 6, "query", "-s",
	               store, "--format", "count", "udp and port 53")) != 0)
		return rc;
	if ((rc = step("7. the same traffic as VPC Flow Log records (v2), for that host", cmd_flows, 7,
	               "flows", "-s", store, "--vni-map", vnimap, "--header", sshhost)) != 0)
		return rc;
	if ((rc = step("8. all flow records in AWS's S3 layout, gzip, as Athena reads them", cmd_flows,
	               7, "flows", "-s", store, "--vni-map", vnimap, "--s3", s3)) != 0)
		return rc;
	rc = step("9. audit the flow log the VPC delivered against what the mirror saw", cmd_audit, 15,
	          "audit", "-s", store, "--flow-logs", flowlog, "--vni-map", vnimap,
	          "--mirror-filters", filters, "--sessions", sessions, "-o", html, "-o", ajson);
	if (rc != 0)
		return rc;
	if ((rc = step("10. a case bundle for someone else: packets, flows, manifest, hashes",
	               cmd_export, 10, "export", "-s", store, sshhost, "-o", bundle, "--case", "DEMO-1",
	               "--examiner", "demo")) != 0)
		return rc;
	if ((rc = step("11. the recipient checks the bundle (and it against the store)", cmd_verify, 4,
	               "verify", bundle, "-s", store)) != 0)
		return rc;
	if ((rc = step("12. the custody log records the export", cmd_custody, 3, "custody", "-s",
	               store)) != 0)
		return rc;
	if ((rc = step("13. check every chunk against the index", cmd_verify, 3, "verify", "-s",
	               store)) != 0)
		return rc;
	printf("\n# done in %.2f s.  Artefacts:\n"
	       "#   %-40s the store (segments/, index/, custody.log)\n"
	       "#   %-40s the mirrored capture (VXLAN)\n"
	       "#   %-40s the flow log the VPC delivered (with disagreements)\n"
	       "#   %-40s a query result (open it in Wireshark)\n"
	       "#   %-40s flow records in the S3 layout\n"
	       "#   %-40s the audit report (open it in a browser)\n"
	       "#   %-40s the same as JSON\n"
	       "#   %-40s the case bundle\n"
	       "#   %-40s ground truth of every flow\n",
	       (double)(tv_clock_mono_ns() - t0) / 1e9, store, mirror, flowlog, sshp, s3, html, ajson,
	       bundle, truth);
	return EXIT_OK;
}
