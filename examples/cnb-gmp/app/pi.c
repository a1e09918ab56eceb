/* Prints pi to 50 digits with MPFR and 2^200 with GMP: a dynamically linked C program
   whose libraries came from an image extension (build.Dockerfile: the headers,
   run.Dockerfile: the shared libraries). */
#include <gmp.h>
#include <mpfr.h>
#include <stdio.h>

int main(void) {
  mpz_t power;
  mpfr_t pi;
  mpz_init(power);
  mpz_ui_pow_ui(power, 2, 200);
  gmp_printf("gmp %s: 2^200 = %Zd\n", gmp_version, power);
  mpfr_init2(pi, 200);
  mpfr_const_pi(pi, MPFR_RNDN);
  mpfr_printf("mpfr %s: pi = %.50Rf\n", mpfr_get_version(), pi);
  mpfr_clear(pi);
  mpz_clear(power);
  return 0;
}
