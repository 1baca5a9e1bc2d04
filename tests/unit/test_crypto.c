/* test_crypto.c: password hashes verify, refuse wrong passwords and reject bad stored forms. */
#include <string.h>

#include "check.h"
#include "crypto.h"

int
main(void)
{
	char h1[CRYPTO_PWHASH_MAX], h2[CRYPTO_PWHASH_MAX];
	uint8_t d[32];
	struct crypto_sha256 *s;

	CHECK_INT(crypto_password_hash("correct horse", 13, 10, h1), 0);
	CHECK_INT(crypto_password_hash("correct horse", 13, 10, h2), 0);
	CHECK(strncmp(h1, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
	CHECK(strcmp(h1, h2) != 0);                       /* salted */
	CHECK_INT(crypto_password_verify("correct horse", 13, h1), 1);
	CHECK_INT(crypto_password_verify("correct horsf", 13, h1), 0);
	CHECK_INT(crypto_password_verify("", 0, h1), 0);
	CHECK_INT(crypto_password_hash("x", 1, 9, h2), -1);      /* cost below the floor */
	CHECK_INT(crypto_password_verify("x", 1, "plaintext"), -1);
	CHECK_INT(crypto_password_verify("x", 1, "$scrypt$ln=30,r=8,p=1$AAAA$AAAA"), -1);
	CHECK_INT(crypto_password_verify("x", 1, "$scrypt$ln=10,r=8,p=1$!!!!$AAAA"), -1);
	CHECK_INT(crypto_password_verify("x", 1, "$scrypt$ln=10,r=8,p=1$AAAAAAAA"), -1);

	/* SHA-256("abc"), FIPS 180-2 */
	s = crypto_sha256_new();
	crypto_sha256_update(s, "a", 1);
	crypto_sha256_update(s, "bc", 2);
	crypto_sha256_final(s, d);
	crypto_sha256_free(s);
	CHECK(d[0] == 0xba && d[1] == 0x78 && d[31] == 0xad);
	CHECK(crypto_equal("abc", "abc", 3));
	CHECK(!crypto_equal("abc", "abd", 3));
	return check_report("test_crypto");
}
