/*
 * swap_exchange.c — the attacker of t_user_chown_race.sh: exchanges two
 * names atomically (renameat2 RENAME_EXCHANGE), over and over, for at most
 * SECONDS seconds, then prints how many exchanges it made.
 *
 *   swap_exchange DIR A B SECONDS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long long n = 0, fails = 0;
	double end;
	int dfd;
	if (argc != 5) {
		fprintf(stderr, "usage: swap_exchange DIR A B SECONDS\n");
		return 2;
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		perror(argv[1]);
		return 2;
	}
	end = now() + atof(argv[4]);
	while (now() < end) {
		int i;
		for (i = 0; i < 1000; i++) {
			if (renameat2(dfd, argv[2], dfd, argv[3], RENAME_EXCHANGE) == 0)
				n++;
			else
				fails++;
		}
	}
	printf("%llu exchanges, %llu failed\n", n, fails);
	return n > 0 ? 0 : 1;
}
