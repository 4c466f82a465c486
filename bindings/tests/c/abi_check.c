/* ABI check of the generated Swift C header against the real library, without Swift.
 *
 * Built and run by scripts/check-swift-header.sh, which extracts from BlindMatch.swift every
 * API checksum the Swift bindings will verify at load time (checksums.inc), so this checks:
 *   - the header compiles as C and links against libblindmatch;
 *   - the contract version and every checksum Swift expects match the library;
 *   - one real call through the header: sha256("abc") via RustBuffer, and a typed error
 *     (ClientKey.fromExported on 3 bytes → BlindMatchError.BadInput) with its status code.
 */
#include "BlindMatchFFI.h"

#include <stdio.h>
#include <string.h>

struct checksum {
    const char *name;
    uint16_t (*fn)(void);
    uint16_t expected;
};

static const struct checksum CHECKSUMS[] = {
#include "checksums.inc"
};

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* UniFFI serialises a byte string as a big-endian i32 length followed by the bytes. */
static RustBuffer bytes_arg(const uint8_t *data, int32_t len) {
    uint8_t tmp[256];
    tmp[0] = (uint8_t)(len >> 24); tmp[1] = (uint8_t)(len >> 16);
    tmp[2] = (uint8_t)(len >> 8);  tmp[3] = (uint8_t)len;
    memcpy(tmp + 4, data, (size_t)len);
    RustCallStatus st = {0};
    ForeignBytes fb = { .len = len + 4, .data = tmp };
    return ffi_blindmatch_rustbuffer_from_bytes(fb, &st);
}

int main(void) {
    int failures = 0;
    if (ffi_blindmatch_uniffi_contract_version() != EXPECTED_CONTRACT_VERSION) {
        printf("contract version %u, Swift expects %u\n", ffi_blindmatch_uniffi_contract_version(),
               (unsigned)EXPECTED_CONTRACT_VERSION);
        failures++;
    }
    size_t n = sizeof CHECKSUMS / sizeof CHECKSUMS[0];
    for (size_t i = 0; i < n; i++) {
        uint16_t got = CHECKSUMS[i].fn();
        if (got != CHECKSUMS[i].expected) {
            printf("checksum %s: library %u, Swift expects %u\n", CHECKSUMS[i].name, got,
                   CHECKSUMS[i].expected);
            failures++;
        }
    }

    /* sha256("abc") → TypedHash { kind: i32 variant (1 = sha256), bytes: i32 len + 32 bytes } */
    RustCallStatus st = {0};
    RustBuffer out = uniffi_blindmatch_fn_func_sha256(bytes_arg((const uint8_t *)"abc", 3), &st);
    static const uint8_t want[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    if (st.code != 0 || out.len != 40 || be32(out.data) != 1 || be32(out.data + 4) != 32 ||
        memcmp(out.data + 8, want, 32) != 0) {
        printf("sha256 through the C ABI: wrong result (status %d, len %llu)\n", st.code,
               (unsigned long long)out.len);
        failures++;
    }
    ffi_blindmatch_rustbuffer_free(out, &st);

    /* A typed error: status code 1 (error) and the error buffer starts with the variant index
     * of BlindMatchError.BadInput (1). */
    RustCallStatus err = {0};
    uniffi_blindmatch_fn_constructor_clientkey_from_exported(bytes_arg((const uint8_t *)"xyz", 3), &err);
    if (err.code != 1 || err.errorBuf.len < 4 || be32(err.errorBuf.data) != 1) {
        printf("ClientKey.fromExported(3 bytes): expected BadInput, status %d\n", err.code);
        failures++;
    }
    RustCallStatus st2 = {0};
    ffi_blindmatch_rustbuffer_free(err.errorBuf, &st2);

    printf("C ABI check: contract version, %zu API checksums, sha256 call, typed error: %s\n", n,
           failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
