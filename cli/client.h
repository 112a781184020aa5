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
 *  - Below: the help text every API verb ends with.
 */
#ifndef VV_CLI_CLIENT_H
#define VV_CLI_CLIENT_H

#include "args.h"
#include "cli.h"
#include "output.h"
#include "request.h"

/* Common help text pieces. */
#define VV_HELP_OUTPUT                                                                   \
    "  -o, --output json|table  output format (default: json; lists print as a JSON\n"   \
    "                           array; table prints aligned columns)\n"                  \
    "  -h, --help               show this help\n"
#define VV_HELP_TAIL                                                                     \
    "\n"                                                                                 \
    "The server and token come from VMVAULT_URL and VMVAULT_TOKEN, else from the\n"      \
    "config file written by 'vmvault login'.\n"                                          \
    "\n"                                                                                 \
    "Exit status: 0 on success; 1 when the server refused the request (the error's\n"    \
    "code and message are printed) or could not be reached; 2 on a usage error.\n"

#endif
