/* test_envfile.c: /etc/default/creditd read as systemd reads it
 * (envfile.h): CREDITD_* lines only, blanks and one pair of quotes
 * dropped, the last of a name wins, the operator's own variable is kept,
 * a value systemd would read otherwise refused with nothing set. */
#include "envfile.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *write_file(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/test_envfile.%ld", (long)getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL ? v : "(unset)";
}

int main(void)
{
	char err[256] = "";
	int set = -1;
	unsetenv("CREDITD_T_A");
	setenv("CREDITD_T_MINE", "operator", 1);
	const char *path = write_file("# a comment\n"
				      "CREDITD_T_A=one\r\n"
				      "  CREDITD_T_B = \"two words\"  \n"
				      "CREDITD_T_C='three'\n"
				      "OTHER_T=x\n"
				      "CREDITD_T_MINE=file\n"
				      "CREDITD_T_D=first\n"
				      "CREDITD_T_D=last\n"
				      "CREDITD_T_E=\n"
				      "not an assignment\n");
	is_int(envfile_load(path, &set, err, sizeof(err)), 0, "read: %s", err);
	is_str(env("CREDITD_T_A"), "one", "a carriage return dropped");
	is_str(env("CREDITD_T_B"), "two words", "blanks and quotes dropped");
	is_str(env("CREDITD_T_C"), "three", "single quotes too");
	is_str(env("OTHER_T"), "(unset)", "only CREDITD_* variables");
	is_str(env("CREDITD_T_MINE"), "operator", "the operator's own kept");
	is_str(env("CREDITD_T_D"), "last", "the last of a name wins, as in systemd");
	is_str(env("CREDITD_T_E"), "", "an empty value is set, empty");
	is_int(set, 5, "five set");
	unsetenv("CREDITD_T_F");
	path = write_file("CREDITD_T_F=ok\nCREDITD_T_G=a\\tb\n");
	is_int(envfile_load(path, &set, err, sizeof(err)), -1, "a backslash inside: refused");
	ok(strstr(err, ":2:") != NULL, "the line named: %s", err);
	is_str(env("CREDITD_T_F"), "(unset)", "and nothing set");
	path = write_file("CREDITD_T_G=it\"s\n");
	is_int(envfile_load(path, &set, err, sizeof(err)), -1, "a quote inside: refused");
	unlink(path);
	is_int(envfile_load(path, &set, err, sizeof(err)), 0, "no file: nothing to read");
	is_int(set, 0, "nothing set");
	return done_testing();
}
