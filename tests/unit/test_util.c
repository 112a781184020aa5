/* test_util.c: hex, sizes, times and dates, names, regions, UUIDs, checked paths,
 * zero detection, CRC-32C known values, byte counts as text, errno codes, log lines
 * that text from outside cannot forge. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/chunkrec.h"
#include "crc32c.h"
#include "err.h"
#include "harness.h"
#include "log.h"
#include "util.h"

TEST(bytes_as_text)
{
    char t[VV_BYTES_TEXT_MAX];
    vv_bytes_text(0, t);
    CHECK(!strcmp(t, "0 B"));
    vv_bytes_text(1023, t);
    CHECK(!strcmp(t, "1023 B"));
    vv_bytes_text(1536, t);
    CHECK(!strcmp(t, "1.5 KiB"));
    vv_bytes_text(64 * 1024, t);
    CHECK(!strcmp(t, "64.0 KiB"));
    vv_bytes_text(UINT64_MAX, t);
    CHECK(!strcmp(t, "16384.0 PiB"));
}

TEST(regions)
{
    CHECK(vv_region_valid("westeurope"));
    CHECK(vv_region_valid("eu-2"));
    CHECK(!vv_region_valid(NULL));
    CHECK(!vv_region_valid(""));
    CHECK(!vv_region_valid("-eu"));
    CHECK(!vv_region_valid("WestEurope"));
    CHECK(!vv_region_valid("west europe"));
    CHECK(!vv_region_valid("../x"));
}

TEST(full_file_systems_have_their_own_code)
{
    CHECK_EQ(vv_err_from_errno(ENOSPC), VV_E_NOSPC);
    CHECK_EQ(vv_err_from_errno(EDQUOT), VV_E_NOSPC);
    CHECK_EQ(vv_err_from_errno(EIO), VV_E_IO);
    CHECK_EQ(vv_err_from_errno(EACCES), VV_E_IO);
}

/* What vv_warn writes for msg, read back from stderr redirected to a file. */
static void logged(const char *msg, char *out, size_t n)
{
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);
    enum vv_log_level level = vv_log_get_level();
    size_t got = 0;

    out[0] = '\0';
    if (!f || saved < 0)
        return;
    fflush(stderr);
    dup2(fileno(f), STDERR_FILENO);
    vv_log_set_level(VV_LOG_INFO);
    vv_warn("job x: %s", msg);
    vv_log_set_level(level);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(f);
    got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

TEST(log_lines_cannot_be_forged)
{
    char out[512];
    logged("name\nerror: forged line\r\x1b[2J", out, sizeof(out));
    CHECK(!strcmp(out, "warning: job x: name\n    error: forged line??[2J\n"));
    logged("plain\ttext", out, sizeof(out));
    CHECK(!strcmp(out, "warning: job x: plain\ttext\n"));
}

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

/* The framing of several chunks in one body: a head written is read back; a body cut
 * inside a head or inside a payload is told apart. */
TEST(chunk_records_round_trip_and_refuse_short_bodies)
{
    uint8_t body[2 * VV_REC_HEAD + 5], id[VV_CHUNK_ID_LEN];
    struct vv_rec rec;

    for (size_t i = 0; i < sizeof(id); i++)
        id[i] = (uint8_t)(i * 7);
    vv_rec_put_head(body, id, VV_REC_ZSTD, 0x01020305u);
    CHECK_EQ(body[VV_CHUNK_ID_LEN + 1], 1); /* big-endian */
    CHECK_EQ(body[VV_CHUNK_ID_LEN + 4], 5);
    vv_rec_put_head(body, id, VV_REC_IDENTITY, 5);
    memcpy(body + VV_REC_HEAD, "hello", 5);
    vv_rec_put_head(body + VV_REC_HEAD + 5, id, VV_REC_RAW, 0);
    CHECK_OK(vv_rec_read(body, sizeof(body), &rec));
    CHECK_MEM(rec.id, id, VV_CHUNK_ID_LEN);
    CHECK_EQ(rec.enc, VV_REC_IDENTITY);
    CHECK_EQ(rec.len, 5);
    CHECK_MEM(rec.payload, "hello", 5);
    CHECK_OK(vv_rec_read(body + VV_REC_HEAD + 5, VV_REC_HEAD, &rec));
    CHECK_EQ(rec.len, 0);
    CHECK_EQ(vv_rec_read(body, VV_REC_HEAD - 1, &rec), VV_E_TRUNCATED);
    CHECK_EQ(vv_rec_read(body, VV_REC_HEAD + 4, &rec), VV_E_CORRUPT);
    CHECK_EQ(rec.len, 5);
    CHECK(rec.payload == NULL);
}

TEST(dates_and_empty_times)
{
    char buf[32];
    time_t t;
    int y, m, d;

    vv_time_format_or_empty(0, buf);
    CHECK(!strcmp(buf, ""));
    vv_time_format_or_empty(1795804648, buf);
    CHECK(!strcmp(buf, "2026-11-27T18:37:28Z"));
    CHECK_OK(vv_date_split("2028-02-29", &y, &m, &d));
    CHECK(y == 2028 && m == 2 && d == 29);
    CHECK_EQ(vv_date_split("2027-02-29", &y, &m, &d), VV_E_INVAL); /* not a leap year */
    CHECK_EQ(vv_date_split("1969-12-31", &y, &m, &d), VV_E_INVAL);
    CHECK_EQ(vv_date_split("2026-13-01", &y, &m, &d), VV_E_INVAL);
    CHECK_EQ(vv_date_split("2026-1-011", &y, &m, &d), VV_E_INVAL);
    CHECK_EQ(vv_date_split("2026+11-27", &y, &m, &d), VV_E_INVAL);
    CHECK_OK(vv_date_parse_utc("2026-11-27", 0, &t));
    CHECK_EQ(t, 1795804648 - (18 * 3600 + 37 * 60 + 28));
    CHECK_OK(vv_date_parse_utc("2026-11-27", 1, &t));
    CHECK_EQ(t, 1795804648 - (18 * 3600 + 37 * 60 + 28) + 86399);
    CHECK_OK(vv_date_parse_utc("2026-11-27T18:37:28Z", 1, &t));
    CHECK_EQ(t, 1795804648);
    CHECK_EQ(vv_date_parse_utc("2026-11-31", 0, &t), VV_E_INVAL);
    CHECK_EQ(vv_date_parse_utc("yesterday", 0, &t), VV_E_INVAL);
}

TEST(names_uuids_and_paths)
{
    char path[16], big[VV_PATH_MAX + 8];

    CHECK(vv_name_valid("web01") && vv_name_valid("a.b_c-d") && vv_name_valid("9"));
    CHECK(!vv_name_valid(NULL) && !vv_name_valid("") && !vv_name_valid(".."));
    CHECK(!vv_name_valid("-x") && !vv_name_valid("a/b") && !vv_name_valid("a b"));
    memset(big, 'a', 65);
    big[65] = '\0';
    CHECK(!vv_name_valid(big));
    big[64] = '\0';
    CHECK(vv_name_valid(big));

    CHECK(vv_uuid_valid("0b9a3c2e-1f4d-4e5a-9b8c-7d6e5f4a3b2C"));
    CHECK(!vv_uuid_valid(NULL) && !vv_uuid_valid(""));
    CHECK(!vv_uuid_valid("0b9a3c2e-1f4d-4e5a-9b8c-7d6e5f4a3b2"));
    CHECK(!vv_uuid_valid("0b9a3c2e-1f4d-4e5a-9b8c-7d6e5f4a3b2cc"));
    CHECK(!vv_uuid_valid("../../../../etc/passwd-aaaaaaaaaaaaaa"));
    CHECK(!vv_uuid_valid("0b9a3c2e_1f4d-4e5a-9b8c-7d6e5f4a3b2c"));

    CHECK_OK(vv_path_join(path, sizeof(path), "%s/%s", "/a", "b"));
    CHECK(!strcmp(path, "/a/b"));
    CHECK_OK(vv_path_join(path, sizeof(path), "%s", "123456789012345")); /* 15 + NUL */
    CHECK_EQ(vv_path_join(path, sizeof(path), "%s", "1234567890123456"), VV_E_TOOBIG);
    CHECK(!strcmp(path, "")); /* never a cut path */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    {
        char p[VV_PATH_MAX];
        CHECK_EQ(vv_path_join(p, sizeof(p), "/%s", big), VV_E_TOOBIG);
    }
}

TEST(replication_window_and_rate)
{
    int from = -1, to = -1;
    const time_t day = 1765152000; /* a midnight UTC (2025-12-08) */

    CHECK_OK(vv_window_parse("22:00-06:00", &from, &to));
    CHECK_EQ(from, 22 * 60);
    CHECK_EQ(to, 6 * 60);
    CHECK(vv_window_open(from, to, day + 23 * 3600));      /* 23:00 */
    CHECK(vv_window_open(from, to, day + 5 * 3600 + 3599)); /* 05:59:59 */
    CHECK(!vv_window_open(from, to, day + 6 * 3600));      /* 06:00: closed */
    CHECK(!vv_window_open(from, to, day + 12 * 3600));
    CHECK_OK(vv_window_parse("01:30-02:00", &from, &to));
    CHECK(vv_window_open(from, to, day + 90 * 60));
    CHECK(!vv_window_open(from, to, day + 120 * 60));
    CHECK_OK(vv_window_parse("00:00-00:00", &from, &to)); /* equal ends: all day */
    CHECK(vv_window_open(from, to, day + 7));
    CHECK_EQ(vv_window_parse("24:00-01:00", &from, &to), VV_E_INVAL);
    CHECK_EQ(vv_window_parse("1:00-02:00", &from, &to), VV_E_INVAL);
    CHECK_EQ(vv_window_parse("01:00-02:60", &from, &to), VV_E_INVAL);
    CHECK_EQ(vv_window_parse("01:00-02:00x", &from, &to), VV_E_INVAL);
    CHECK_EQ(vv_window_parse(NULL, &from, &to), VV_E_INVAL);

    CHECK_EQ(vv_rate_wait_ms(1000000, 0, 0), 0u);           /* no limit */
    CHECK_EQ(vv_rate_wait_ms(1000000, 0, 1000000), 1000u);  /* 1 MB at 1 MB/s */
    CHECK_EQ(vv_rate_wait_ms(1000000, 400, 1000000), 600u);
    CHECK_EQ(vv_rate_wait_ms(1000000, 2000, 1000000), 0u);  /* already slower */
    CHECK_EQ(vv_rate_wait_ms(UINT64_C(1) << 50, 0, 1), (UINT64_C(1) << 50) * 1000); /* no overflow */
}

TEST(file_replace_is_whole_private_and_never_through_a_link)
{
    char path[VV_PATH_MAX], tmp[VV_PATH_MAX], link[VV_PATH_MAX];
    struct vv_buf b = VV_BUF_INIT;
    struct stat st;
    const char *dir = vv_test_tmpdir();

    CHECK_OK(vv_path_join(path, sizeof(path), "%s/f.json", dir));
    CHECK_OK(vv_path_join(tmp, sizeof(tmp), "%s/f.json.tmp", dir));
    CHECK_OK(vv_file_replace(path, "first", 5));
    CHECK_OK(vv_file_replace(path, "second", 6));
    vv_buf_init(&b, 1024);
    CHECK_OK(vv_read_file(path, &b));
    CHECK(b.len == 6 && !memcmp(b.data, "second", 6));
    vv_buf_release(&b);
    CHECK_OK(stat(path, &st));
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK(access(tmp, F_OK) != 0); /* no leftover */
    /* a link planted at the temporary name is refused, not followed */
    CHECK_OK(vv_path_join(link, sizeof(link), "%s/elsewhere", dir));
    CHECK_EQ(symlink(link, tmp), 0);
    CHECK(vv_file_replace(path, "third", 5) < 0);
    CHECK(access(link, F_OK) != 0);
    CHECK_OK(vv_dir_sync(dir));
    CHECK(vv_dir_sync(path) < 0); /* not a folder */
}
