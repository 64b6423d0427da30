/*
 * mbedtls_outpost.h - mbedTLS 2.28 configured down for outpostd's static
 * build (make STATIC=1; scripts/build-dep.sh installs it as
 * mbedtls/outpost_config.h, Debian's config.h includes it last as
 * MBEDTLS_USER_CONFIG_FILE, and libcurl for that build is compiled against
 * the same headers: the structs curl embeds change size with this file).
 *
 * Kept, what the providers (api.twilio.com, graph.facebook.com) and
 * outpostd need: a TLS 1.2 client (mbedTLS 2.28 has no TLS 1.3; that
 * takes mbedTLS 3, Debian 13); ECDHE-ECDSA and ECDHE-RSA key exchange with
 * AES-GCM, ChaCha20-Poly1305 and (for servers that offer nothing else)
 * AES-CBC; curves P-256, P-384 and X25519; X.509 path verification with
 * RSA (PKCS#1 v1.5 and PSS) and ECDSA signatures, SHA-1/224/256/384/512
 * (SHA-1 and MD5 only where old chains and PEM need them); ALPN, SNI,
 * session tickets, extended master secret, encrypt-then-MAC. outpostd's
 * own: HMAC-SHA1/256 (webhook signatures), AES-GCM and PBKDF2 (the vault,
 * PINs), ECDSA P-256 public keys in PEM (signed config and commands);
 * for curl, public keys written as DER (CURLOPT_PINNEDPUBLICKEY).
 *
 * Dropped: the server side (and its session cache, cookies, tickets),
 * DTLS, TLS 1.0 and 1.1, the PSK, static RSA, static ECDH and finite-field
 * DHE key exchanges, ARC4, DES, Blowfish, Camellia, XTEA, CCM, CMAC, MD2,
 * MD4, RIPEMD-160, the other eleven curves, HAVEGE (its state is 32 KiB in
 * every entropy context, one per TLS connection in curl, all of it
 * written), the PSA crypto API and its key store, X.509 writing and CSRs,
 * PEM writing, the test certificates, the self tests, debug messages,
 * the feature-name table, and RSA key generation.
 *
 * Record buffers stay 16 KiB each way: the input must (a server may send
 * full records: no max_fragment_length is negotiated with these
 * providers), and the output costs only the pages a record is written to,
 * since net/http.c has glibc give blocks over 16 KiB pages of their own.
 */
#undef MBEDTLS_SSL_SRV_C
#undef MBEDTLS_SSL_CACHE_C
#undef MBEDTLS_SSL_COOKIE_C
#undef MBEDTLS_SSL_TICKET_C
#undef MBEDTLS_SSL_PROTO_DTLS
#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY
#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY
#undef MBEDTLS_SSL_DTLS_SRTP
#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE
#undef MBEDTLS_SSL_DTLS_BADMAC_LIMIT
#undef MBEDTLS_SSL_PROTO_TLS1
#undef MBEDTLS_SSL_PROTO_TLS1_1
#undef MBEDTLS_SSL_CBC_RECORD_SPLITTING
#undef MBEDTLS_SSL_TRUNCATED_HMAC
#undef MBEDTLS_SSL_CONTEXT_SERIALIZATION

#undef MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED
#undef MBEDTLS_DHM_C

#undef MBEDTLS_ARC4_C
#undef MBEDTLS_DES_C
#undef MBEDTLS_BLOWFISH_C
#undef MBEDTLS_CAMELLIA_C
#undef MBEDTLS_XTEA_C
#undef MBEDTLS_CCM_C
#undef MBEDTLS_CMAC_C
#undef MBEDTLS_CIPHER_MODE_CFB
#undef MBEDTLS_CIPHER_MODE_OFB
#undef MBEDTLS_CIPHER_MODE_XTS
#undef MBEDTLS_MD2_C
#undef MBEDTLS_MD4_C
#undef MBEDTLS_RIPEMD160_C

#undef MBEDTLS_ECP_DP_SECP192R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP521R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP192K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP256K1_ENABLED
#undef MBEDTLS_ECP_DP_BP256R1_ENABLED
#undef MBEDTLS_ECP_DP_BP384R1_ENABLED
#undef MBEDTLS_ECP_DP_BP512R1_ENABLED
#undef MBEDTLS_ECP_DP_CURVE448_ENABLED

#undef MBEDTLS_HAVEGE_C
#undef MBEDTLS_PSA_CRYPTO_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_X509_CREATE_C
#undef MBEDTLS_X509_CRT_WRITE_C
#undef MBEDTLS_X509_CSR_WRITE_C
#undef MBEDTLS_X509_CSR_PARSE_C
#undef MBEDTLS_PEM_WRITE_C
#undef MBEDTLS_CERTS_C
#undef MBEDTLS_SELF_TEST
#undef MBEDTLS_DEBUG_C
#undef MBEDTLS_VERSION_FEATURES
#undef MBEDTLS_GENPRIME
