/*
 * demo.c — `tapvault demo [DIR]`: the whole story on generated traffic.
 *
 * Generates a mirrored-traffic scenario with the project's generator (linked
 * in from testdata/gen.c and run in a child process), then runs the real
 * subcommands on it, printing each as the command a user would type.
 */
#include "cmd.h"

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
	        "IPv6, fragments, a truncating session), then ingests it, queries it, verifies\n"
	        "the store and prints its statistics, showing each step as the command you\n"
	        "would type.  Everything goes into DIR (default ./demo-out), which is emptied\n"
	        "first if an earlier demo made it.\n"
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
		const char *a = argv[i];
		printf(strpbrk(a, " ()'*") ? " '%s'" : " %s", a);
	}
	printf("\n");
	fflush(stdout);
	rc = fn(argc, argv);
	fflush(stdout);
	return rc;
}

static int clear_dir(const char *dir)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, DEMO_MARK);
	if (stat(dir, &st) != 0)
		return mkdir(dir, 0700) == 0 ? 0 : errno;
	if (!S_ISDIR(st.st_mode))
		return ENOTDIR;
	if (stat(path, &st) != 0) {
		DIR *d = opendir(dir);
		struct dirent *e;
		int empty = 1;
		if (!d)
			return errno;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = 0;
		closedir(d);
		if (!empty)
			return EEXIST;
	} else {
		char cmd[4200];
		/* only a folder an earlier demo made and marked is emptied */
		snprintf(cmd, sizeof cmd, "rm -rf -- '%s'/store '%s'/*.pcap '%s'/*.csv", dir, dir, dir);
		if (system(cmd) != 0)
			return TV_E_IO;
	}
	{
		FILE *f = fopen(path, "w");
		if (!f)
			return errno;
		fputs("made by tapvault demo; the next demo run empties this folder\n", f);
		fclose(f);
	}
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "demo-out";
	char store[4096], mirror[4096], inner[4096], truth[4096], sshp[4096];
	int c, rc;
	uint64_t t0 = cmd_mono_ns();

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
	snprintf(sshp, sizeof sshp, "%s/bastion-ssh.pcap", dir);

	printf("# 1. generating a mirrored capture as an AWS mirror target receives it\n"
	       "#    (VXLAN on UDP 4789, 4 sessions / VNIs, ~15 minutes of traffic)\n");
	{
		char g0[] = "tv-gen", g1[] = "--seed", g2[] = "42", g3[] = "--outer", g5[] = "--inner",
		     g7[] = "--truth";
		char *gargs[] = { g0, g1, g2, g3, mirror, g5, inner, g7, truth, NULL };
		rc = run_generator(gargs);
		if (rc) {
			cmd_err("demo", "the traffic generator failed");
			return EXIT_FAILURE;
		}
	}
	printf("#    wrote %s (outer), %s (decapsulated reference) and %s (ground truth per flow)\n",
	       mirror, inner, truth);

	if ((rc = step("2. ingest: strip the tunnel, compress, index", cmd_ingest, 5, "ingest", "-s",
	               store, "-r", mirror)) != 0)
		return rc;
	if ((rc = step("3. what is in the store", cmd_stats, 3, "stats", "-s", store)) != 0)
		return rc;
	if ((rc = step("4. the first packets of the bastion's SSH on an unusual port (443)", cmd_query,
	               6, "query", "-s", store, "-c", "6", "tcp and port 443 and vni 4")) != 0)
		return rc;
	if ((rc = step("5. every packet of one host's SSH sessions, as a pcap for Wireshark", cmd_query,
	               6, "query", "-s", store, "host 10.0.4.10 and port 22", "-w", sshp)) != 0)
		return rc;
	if ((rc = step("6. how many DNS packets went to the VPC resolver", cmd_query, 6, "query", "-s",
	               store, "--format", "count", "udp and port 53")) != 0)
		return rc;
	if ((rc = step("7. check every chunk against the index", cmd_verify, 3, "verify", "-s",
	               store)) != 0)
		return rc;
	printf("\n# done in %.1f s.  Artefacts:\n"
	       "#   %s       the store (segments/ and index/)\n"
	       "#   %s     the mirrored capture\n"
	       "#   %s  a query result (open it in Wireshark)\n"
	       "#   %s      ground truth of every flow\n",
	       (double)(cmd_mono_ns() - t0) / 1e9, store, mirror, sshp, truth);
	return EXIT_OK;
}
