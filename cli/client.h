/*
 * client.h: what every `vmvault` command that talks to a vault server shares.
 *
 *  - args.h: the command line of a verb. One table of every API option, each verb
 *    listing the options it accepts and which are required; every value is checked
 *    and normalised before anything else happens, so a bad command line is exit 2
 *    and sends no request.
 *  - request.h: where the server is (VMVAULT_URL and VMVAULT_TOKEN, else the config
 *    file `vmvault login` writes), one request helper that prints the server's
 *    errors, and the verbs of one request.
 *  - output.h: --output json (the default) or --output table, and the cells of
 *    tables.
 *  - Below: the help text every API verb ends with, --use-secondary-region
 *    included (args.h accepts it on every verb that lists --output).
 */
#ifndef VV_CLI_CLIENT_H
#define VV_CLI_CLIENT_H

#include "args.h"
#include "cli.h"
#include "output.h"
#include "request.h"

/* Common help text pieces. VV_HELP_OUTPUT ends the options of every API verb;
 * login, which has no secondary session to use, spells its own. */
#define VV_HELP_FORMAT                                                                   \
    "  -o, --output json|table  output format (default: json; lists print as a JSON\n"   \
    "                           array; table prints aligned columns)\n"
#define VV_HELP_SECONDARY                                                                \
    "  --use-secondary-region   send the command to the paired secondary region's\n"     \
    "                           server (saved by 'vmvault login --secondary-region')\n"
#define VV_HELP_HELP "  -h, --help               show this help\n"
#define VV_HELP_OUTPUT VV_HELP_FORMAT VV_HELP_SECONDARY VV_HELP_HELP
#define VV_HELP_TAIL                                                                     \
    "\n"                                                                                 \
    "The server and token come from VMVAULT_URL and VMVAULT_TOKEN, else from the\n"      \
    "config file written by 'vmvault login'; with --use-secondary-region from\n"         \
    "VMVAULT_SECONDARY_URL and VMVAULT_SECONDARY_TOKEN, else from 'vmvault login\n"      \
    "--secondary-region'.\n"                                                              \
    "\n"                                                                                 \
    "Exit status: 0 on success; 1 when the server refused the request (the error's\n"    \
    "code and message are printed) or could not be reached; 2 on a usage error.\n"

/* Read one line (a token or a code) from standard input into buf (n bytes), trimmed;
 * prompt is shown on standard error when standard input is a terminal. 0, or -1 when
 * there is no line or it is empty (cmd_login.c). */
int vv_cli_read_secret(const char *prompt, char *buf, size_t n);

#endif
