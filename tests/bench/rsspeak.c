/*
 * rsspeak — peak anonymous memory of a command (benchmark helper).
 *
 *   rsspeak -o OUT CMD [ARG ...]
 *
 * Runs CMD and reads /proc/PID/status every millisecond: the peak of
 * RssAnon (heap, stacks, anonymous maps), of RssFile (file pages mapped,
 * such as an LMDB map: page cache the kernel can take back), and VmHWM
 * (the kernel's own peak of the sum, which /usr/bin/time's %M reports).
 * The kernel keeps no peak of RssAnon alone, so it is sampled; to catch
 * a short command's last state too, the child is traced with
 * PTRACE_O_TRACEEXIT and read once more when it stops on its way out,
 * before its memory is released (without ptrace, sampling only).
 *
 * Writes one line to OUT:
 *   rss_anon_kib=N rss_file_kib=N vm_hwm_kib=N samples=N traced=0|1 exit=N
 * and exits with CMD's status (128 + signal when a signal ended it).
 * SIGINT and SIGTERM are passed on to CMD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_child;

static void pass_on(int sig)
{
	if (g_child > 0)
		kill((pid_t)g_child, sig);
}

typedef struct peak {
	long anon, file, hwm, samples;
} peak;

static void sample(pid_t pid, peak *pk)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	long anon = -1, file = -1, hwm = -1;
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "RssAnon:", 8))
			anon = strtol(line + 8, NULL, 10);
		else if (!strncmp(line, "RssFile:", 8))
			file = strtol(line + 8, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			hwm = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	/* a zombie or a kernel thread has no memory lines: not a sample */
	if (anon < 0)
		return;
	pk->samples++;
	if (anon > pk->anon)
		pk->anon = anon;
	if (file > pk->file)
		pk->file = file;
	if (hwm > pk->hwm)
		pk->hwm = hwm;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	int a = 1;
	if (argc > 2 && !strcmp(argv[1], "-o")) {
		out = argv[2];
		a = 3;
	}
	if (!out || a >= argc) {
		fprintf(stderr, "usage: rsspeak -o OUT CMD [ARG ...]\n");
		return 2;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		perror("rsspeak: pipe");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("rsspeak: fork");
		return 2;
	}
	if (pid == 0) {
		char t = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 't' : 'n';
		if (write(pfd[1], &t, 1) != 1)
			_exit(127);
		execvp(argv[a], argv + a);
		fprintf(stderr, "rsspeak: %s: %s\n", argv[a], strerror(errno));
		_exit(127);
	}
	g_child = pid;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = pass_on;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	close(pfd[1]);
	char t = 'n';
	if (read(pfd[0], &t, 1) != 1)
		t = 'n';
	close(pfd[0]);
	int traced = t == 't';

	peak pk = { 0, 0, 0, 0 };
	int st = 0, code = 0, started = !traced;
	const struct timespec ms = { 0, 1000000 };
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG | __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("rsspeak: waitpid");
			code = 2;
			break;
		}
		if (w == 0) {
			if (started)
				sample(pid, &pk);
			nanosleep(&ms, NULL);
			continue;
		}
		if (WIFEXITED(st)) {
			code = WEXITSTATUS(st);
			break;
		}
		if (WIFSIGNALED(st)) {
			code = 128 + WTERMSIG(st);
			break;
		}
		if (WIFSTOPPED(st)) {
			int sig = WSTOPSIG(st);
			if (!started && sig == SIGTRAP) {
				/* stopped after execve: from here on it is CMD */
				started = 1;
				ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL));
				ptrace(PTRACE_CONT, pid, NULL, NULL);
				continue;
			}
			if (sig == SIGTRAP && (st >> 16) == PTRACE_EVENT_EXIT) {
				sample(pid, &pk);
				ptrace(PTRACE_CONT, pid, NULL, NULL);
				continue;
			}
			/* any other signal goes on to CMD */
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
		}
	}
	FILE *f = fopen(out, "w");
	if (!f) {
		perror(out);
		return 2;
	}
	fprintf(f, "rss_anon_kib=%ld rss_file_kib=%ld vm_hwm_kib=%ld samples=%ld traced=%d exit=%d\n", pk.anon,
	        pk.file, pk.hwm, pk.samples, traced, code);
	if (fclose(f) != 0) {
		perror(out);
		return 2;
	}
	return code;
}
