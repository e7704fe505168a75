/*
 * extender/cli/cmd_version.c - `flexplace version`.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <yaml.h>

#include <glib.h>

#include "extender/cli/commands.h"

int fp_cmd_version(int argc, char **argv)
{
    printf("flexplace %s\n", FP_VERSION);
    if (argc > 1 && (g_str_equal(argv[1], "-v") || g_str_equal(argv[1], "--verbose"))) {
        printf("  libmicrohttpd %s\n  jansson %s\n  libcurl %s\n  glib %u.%u.%u\n  libyaml %s\n",
               MHD_get_version(), jansson_version_str(),
               curl_version_info(CURLVERSION_NOW)->version, glib_major_version, glib_minor_version,
               glib_micro_version, yaml_get_version_string());
    }
    return FP_EXIT_OK;
}
