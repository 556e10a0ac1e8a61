/* test_envfile.c: /etc/default/creditd read as systemd reads it
 * (envfile.h): CREDITD_* lines only, blanks and one pair of quotes
 * dropped, the last of a name wins, the operator's own variable is kept,
 * a value systemd would read otherwise refused with nothing set. */
#include "config.h"
#include "envfile.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *write_file(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/test_envfile.%ld", (long)getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
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
	/* A comment longer than a line may be, CREDITD_CONFIG (the unit
	 * names its config with -c): skipped. */
	static char text[8192];
	memset(text, 0, sizeof(text));
	strcpy(text, "# ");
	memset(text + 2, 'x', 6000);
	strcat(text, "\nCREDITD_CONFIG=/elsewhere.conf\nCREDITD_T_H=after\n");
	unsetenv("CREDITD_T_H");
	path = write_file(text);
	is_int(envfile_load(path, &set, err, sizeof(err)), 0, "a long comment skipped: %s", err);
	is_str(env("CREDITD_T_H"), "after", "the line after it read");
	ok(getenv("CREDITD_CONFIG") == NULL || strcmp(getenv("CREDITD_CONFIG"), "/elsewhere.conf") != 0,
	   "CREDITD_CONFIG is not the file's to set");
	/* It holds secrets: others may not read it, nor its group write it. */
	unsetenv("CREDITD_T_I");
	path = write_file("CREDITD_T_I=x\n");
	chmod(path, 0644);
	is_int(envfile_load(path, &set, err, sizeof(err)), -1, "readable by others: refused");
	ok(strstr(err, "0644") != NULL, "the mode named: %s", err);
	is_str(env("CREDITD_T_I"), "(unset)", "nothing set");
	chmod(path, 0620);
	is_int(envfile_load(path, &set, err, sizeof(err)), -1, "writable by its group: refused");
	chmod(path, 0640);
	is_int(envfile_load(path, &set, err, sizeof(err)), 0, "readable by its group: taken");
	unlink(path);
	is_int(envfile_load(path, &set, err, sizeof(err)), 0, "no file: nothing to read");
	is_int(set, 0, "nothing set");
	/* The file that goes with a config. */
	unsetenv("CREDITD_ENV_FILE");
	unsetenv("CREDITD_CONFIG");
	is_str(envfile_for_config(NULL), ENVFILE_DEFAULT_PATH, "the default config: the unit's file");
	is_str(envfile_for_config(CFG_DEFAULT_PATH), ENVFILE_DEFAULT_PATH, "-c naming the default: the same");
	ok(envfile_for_config("/tmp/demo.conf") == NULL, "another config: none");
	setenv("CREDITD_CONFIG", "/tmp/demo.conf", 1);
	ok(envfile_for_config(NULL) == NULL, "another by CREDITD_CONFIG: none");
	setenv("CREDITD_ENV_FILE", "/tmp/mine", 1);
	is_str(envfile_for_config(NULL), "/tmp/mine", "CREDITD_ENV_FILE names it");
	setenv("CREDITD_ENV_FILE", "", 1);
	ok(envfile_for_config(NULL) == NULL, "CREDITD_ENV_FILE empty: none");
	return done_testing();
}
