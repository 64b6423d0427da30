#!/bin/bash
# Debian 12's armhf libraries are built with a 32-bit time_t and off_t; the
# armhf outpostd with -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64. Nothing may
# pass a time_t or off_t, or a struct holding one, across that line. Checked
# three ways: (1) the headers of every library outpostd links declare no
# time_t, off_t, timespec, timeval or struct stat except the reviewed ones
# below; (2) the code linked in statically calls only the 64-bit forms of
# the time and file functions; (3) the size of every struct outpostd and
# libcurl share with a library is
# the same under both flag sets (compiled for armhf, run under qemu-arm),
# except mbedtls_ssl_session, which curl only allocates (ours is the larger)
# and passes by pointer. docs/INSTALL.md, "32-bit ARM", says what was found.
#   tests/arm/abi.sh   (needs scripts/setup.sh emu)
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/arm/emu.sh
. tests/arm/emu.sh
T=arm-linux-gnueabihf
emu_cmd "$T" || exit 1
work=build/$T/abi
mkdir -p "$work"
fail() { echo "FAIL: abi: $*" >&2; exit 1; }

# (1) Declarations with a time or offset type in the libraries' headers.
# Reviewed: mbedtls_time_t is time_t; ssl.h's session start and
# ssl_cache.h's entry timestamp (outpostd and curl use no ssl cache);
# platform_time.h's time hook and platform_util.h's gmtime_r (mbedTLS calls
# its own). Anything new here needs a look, then a line here.
reviewed='mbedtls/platform_time.h:typedef MBEDTLS_PLATFORM_TIME_TYPE_MACRO mbedtls_time_t;
mbedtls/platform_time.h:typedef time_t mbedtls_time_t;
mbedtls/platform_time.h:extern mbedtls_time_t (*mbedtls_time)(mbedtls_time_t *time);
mbedtls/platform_time.h:int mbedtls_platform_set_time(mbedtls_time_t (*time_func)(mbedtls_time_t *time));
mbedtls/platform_util.h:struct tm *mbedtls_platform_gmtime_r(const mbedtls_time_t *tt,
mbedtls/ssl.h:    mbedtls_time_t start;       /*!< starting time      */
mbedtls/ssl_cache.h:    mbedtls_time_t timestamp;           /*!< entry timestamp    */'
found=$(cd /usr/include && grep -HE '\b(time_t|off_t|mbedtls_time_t|struct (timespec|timeval|stat))\b' \
	mosquitto.h lmdb.h cjson/cJSON.h nghttp2/nghttp2.h nghttp2/nghttp2ver.h mbedtls/*.h |
	grep -vE ':\s*(\*|/\*|//|#)' | sed -E 's/:[0-9]+:/:/' | sort -u)
gone=$(comm -23 <(sort -u <<<"$reviewed") <(echo "$found"))
[ -z "$gone" ] || fail "reviewed declarations not found (headers moved? the check would see nothing):
$gone"
new=$(comm -13 <(sort -u <<<"$reviewed") <(echo "$found"))
[ -z "$new" ] || fail "declarations not reviewed for the 32-bit time_t of Debian's armhf libraries:
$new"
# Neither outpostd nor libcurl calls the time hooks or the ssl cache.
bad=$(arm-linux-gnueabihf-nm -u "build/$T/outpostd" |
	grep -oE 'mbedtls_(ssl_cache_[a-z_]+|platform_set_time|platform_gmtime_r|time)\b' | sort -u)
[ -z "$bad" ] || fail "build/$T/outpostd calls $bad (passes a time_t to Debian's mbedTLS)"

# (2) The code linked in statically (ours, libcurl, lmdb, Debian's
# libnghttp2.a) calls the 64-bit time and file functions only. Reviewed
# exception: nghttp2_time.o reads CLOCK_MONOTONIC (seconds since boot, with
# time() as a fallback that Linux never takes) with a 32-bit time_t. And
# lmdb is not Debian's shared liblmdb0, built with a 32-bit off_t.
old='time|clock_gettime|clock_getres|gettimeofday|gmtime_r|localtime_r|mktime|timegm|nanosleep|'
old+='clock_nanosleep|select|pselect|ppoll|utimensat|futimens|timerfd_settime|setsockopt|'
old+='getsockopt|fcntl|ioctl|open|openat|fopen|pread|pwrite|lseek|ftruncate|truncate|mmap|'
old+='fstat|stat|lstat|fstatat|statvfs|fstatvfs|fstatfs|readdir'
used=$(arm-linux-gnueabihf-nm -A -u "build/$T"/obj/firmware/main.o "build/$T"/libfirmware.a \
	"build/$T"/liboutpost.a "build/$T"/curl/lib/libcurl.a "build/$T"/deps/lmdb/lib/liblmdb.a \
	/usr/lib/$T/libnghttp2.a 2>/dev/null | grep -E " U ($old)\$" |
	grep -vE 'libnghttp2\.a:nghttp2_time\.o: +U (time|clock_gettime)$')
[ -z "$used" ] || fail "32-bit time_t or off_t calls in code linked into the armhf outpostd:
$used"
[ -s "build/$T/deps/lmdb/lib/liblmdb.a" ] || fail "build/$T/deps/lmdb/lib/liblmdb.a missing (LMDB=static)"
! arm-linux-gnueabihf-readelf -d "build/$T/outpostd" | grep -q 'NEEDED.*liblmdb' ||
	fail "build/$T/outpostd links Debian's liblmdb0 (32-bit off_t: stores stop at 2 GiB)"

# (3) Struct sizes under both flag sets.
cat >"$work/sizes.c" <<'EOC'
#include <stdio.h>
#include <cJSON.h>
#include <lmdb.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <mosquitto.h>
#include <nghttp2/nghttp2.h>
#define S(t) printf("%s %zu\n", #t, sizeof(t))
int main(void)
{
	S(cJSON); S(cJSON_Hooks); S(MDB_val); S(MDB_stat); S(MDB_envinfo);
	S(struct mosquitto_message); S(nghttp2_nv); S(nghttp2_frame); S(nghttp2_settings_entry);
	S(nghttp2_data_provider); S(nghttp2_priority_spec);
	S(mbedtls_ssl_context); S(mbedtls_ssl_config); S(mbedtls_ssl_session);
	S(mbedtls_x509_crt); S(mbedtls_x509_crl); S(mbedtls_x509_crt_profile); S(mbedtls_pk_context);
	S(mbedtls_ctr_drbg_context); S(mbedtls_entropy_context); S(mbedtls_gcm_context);
	S(mbedtls_md_context_t);
	return 0;
}
EOC
arm-linux-gnueabihf-gcc -o "$work/sizes32" "$work/sizes.c" -I/usr/include/cjson || fail "probe build"
arm-linux-gnueabihf-gcc -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -o "$work/sizes64" "$work/sizes.c" \
	-I/usr/include/cjson || fail "probe build (64-bit time_t)"
"${EMU[@]}" "$work/sizes32" >"$work/sizes32.txt" || fail "probe run"
"${EMU[@]}" "$work/sizes64" >"$work/sizes64.txt" || fail "probe run"
diff=$(diff "$work/sizes32.txt" "$work/sizes64.txt" | grep '^[<>]' | grep -v ' mbedtls_ssl_session ')
[ -z "$diff" ] || fail "struct sizes differ between time_t widths:
$diff"
s32=$(awk '$1 == "mbedtls_ssl_session" {print $2}' "$work/sizes32.txt")
s64=$(awk '$1 == "mbedtls_ssl_session" {print $2}' "$work/sizes64.txt")
[ "$s64" -ge "$s32" ] || fail "mbedtls_ssl_session is smaller with a 64-bit time_t ($s64 < $s32)"
echo "PASS: abi: no time_t or off_t crosses into Debian's armhf libraries;" \
	"$(wc -l <"$work/sizes32.txt") shared structs the same size" \
	"(mbedtls_ssl_session $s32 -> $s64 bytes, allocated by curl, passed by pointer)"
