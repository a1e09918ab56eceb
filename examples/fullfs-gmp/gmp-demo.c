/* Prints 2^200 and 50! computed with GNU MP: a dynamically linked C program whose
   library (libgmp) came from apt-get during full-filesystem staging. */
#include <gmp.h>
#include <stdio.h>

int main(void) {
  mpz_t power, fact;
  mpz_init(power);
  mpz_init(fact);
  mpz_ui_pow_ui(power, 2, 200);
  mpz_fac_ui(fact, 50);
  gmp_printf("gmp %s: 2^200 = %Zd\n", gmp_version, power);
  gmp_printf("50! = %Zd\n", fact);
  mpz_clear(power);
  mpz_clear(fact);
  return 0;
}
