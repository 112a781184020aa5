/* test_util.c: hex, sizes, times, zero detection, CRC-32C known values. */
#include "crc32c.h"
#include "err.h"
#include "harness.h"
#include "util.h"

TEST(parse_size_units)
{
    uint64_t v;
    CHECK_OK(vv_parse_size("4096", &v));
    CHECK_EQ(v, 4096);
    CHECK_OK(vv_parse_size("256K", &v));
    CHECK_EQ(v, 256 * 1024);
    CHECK_OK(vv_parse_size("4MiB", &v));
    CHECK_EQ(v, 4 << 20);
    CHECK_OK(vv_parse_size("1g", &v));
    CHECK_EQ(v, 1 << 30);
    CHECK_EQ(vv_parse_size("", &v), VV_E_INVAL);
    CHECK_EQ(vv_parse_size("-1", &v), VV_E_INVAL);
    CHECK_EQ(vv_parse_size("12Q", &v), VV_E_INVAL);
    CHECK_EQ(vv_parse_size("99999999999999999999", &v), VV_E_INVAL);
    CHECK_EQ(vv_parse_size("20000000T", &v), VV_E_INVAL);
}

TEST(crc32c_known_value)
{
    CHECK_EQ(vv_crc32c(0, "123456789", 9), 0xe3069283u);
    /* split feeding gives the same value */
    CHECK_EQ(vv_crc32c(vv_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

TEST(hex_round_trip)
{
    uint8_t in[5] = {0, 1, 0xab, 0xcd, 0xff}, out[5];
    char hex[11];
    vv_hex_encode(in, 5, hex);
    CHECK(!strcmp(hex, "0001abcdff"));
    CHECK_OK(vv_hex_decode("0001ABCDff", out, 5));
    CHECK_MEM(in, out, 5);
    CHECK_EQ(vv_hex_decode("0001abcdf", out, 5), VV_E_INVAL);
    CHECK_EQ(vv_hex_decode("0001abcdffaa", out, 5), VV_E_INVAL);
    CHECK_EQ(vv_hex_decode("0001abcdfg", out, 5), VV_E_INVAL);
}

TEST(time_round_trip)
{
    char buf[32];
    time_t t;
    vv_time_format(1795804648, buf, sizeof(buf));
    CHECK(!strcmp(buf, "2026-11-27T18:37:28Z"));
    CHECK_OK(vv_time_parse(buf, &t));
    CHECK_EQ(t, 1795804648);
    CHECK_EQ(vv_time_parse("2026-11-27 18:37:28", &t), VV_E_INVAL);
    CHECK_EQ(vv_time_parse("2026-11-27T18:37:28Zjunk", &t), VV_E_INVAL);
    CHECK_EQ(vv_time_parse("2026-02-31T00:00:00Z", &t), VV_E_INVAL);
    CHECK_EQ(vv_time_parse("2026-11-27T18:37:60Z", &t), VV_E_INVAL);
    CHECK_EQ(vv_time_parse(" 2026-11-27T18:37:28Z", &t), VV_E_INVAL);
    CHECK_EQ(vv_time_parse("2026-1-27T18:37:28Z", &t), VV_E_INVAL);
}

TEST(zero_detection)
{
    uint8_t b[4096] = {0};
    CHECK(vv_is_zero(b, sizeof(b)));
    CHECK(vv_is_zero(b, 3));
    b[4095] = 1;
    CHECK(!vv_is_zero(b, sizeof(b)));
    b[4095] = 0;
    b[5] = 1;
    CHECK(!vv_is_zero(b, sizeof(b)));
}

TEST(base64_decode)
{
    uint8_t out[16];
    size_t n = 0;
    CHECK_OK(vv_base64_decode("aGVsbG8gd29ybGQ=", out, sizeof(out), &n));
    CHECK_EQ(n, 11);
    CHECK_MEM(out, "hello world", 11);
    CHECK_OK(vv_base64_decode("", out, sizeof(out), &n));
    CHECK_EQ(n, 0);
    CHECK_OK(vv_base64_decode("/+8=", out, sizeof(out), &n));
    CHECK_EQ(n, 2);
    CHECK_EQ(out[0], 0xff);
    CHECK_EQ(out[1], 0xef);
    CHECK_EQ(vv_base64_decode("aGV*", out, sizeof(out), &n), VV_E_INVAL);
    CHECK_EQ(vv_base64_decode("aG=V", out, sizeof(out), &n), VV_E_INVAL);
    CHECK_EQ(vv_base64_decode("a", out, sizeof(out), &n), VV_E_INVAL);
    CHECK_EQ(vv_base64_decode("aGVsbG8gd29ybGQgaGVsbG8=", out, 4, &n), VV_E_TOOBIG);
}
