/* Prints 100! computed with GMP (arbitrary precision integers). */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
  mpz_t result;
  mpz_init(result);
  mpz_fac_ui(result, n);
  gmp_printf("%lu! = %Zd\n", n, result);
  mpz_clear(result);
  return 0;
}
