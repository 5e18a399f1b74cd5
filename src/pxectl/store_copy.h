/* pxectl store copy: a whole store from one URL to another (see
 * store_copy.c).  argv holds FROM_URL TO_URL [--force]; returns the exit
 * code (0 copied and verified, 1 error or a difference, 2 usage). */
#pragma once

int store_copy_main(int argc, char **argv);
