// The spool's file format and its size accounting (drain is tested against PostgreSQL in
// tests/integration/test_spool.cpp).
#include "collector/spool.hpp"
#include "tests/support/scratch.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using stswatch::spool;
using stswatch::spool_entry;
using stswatch::test::temp_dir;

namespace {

spool_entry sample_entry()
{
    spool_entry e;
    e.raw = std::string("\x1f\x8b\x08\x00 binary\n\nwith blank lines\r\n\0 and NUL", 40);
    e.via = stswatch::transport::smtp;
    e.source_address = "192.0.2.7";
    e.received_at = 1751932800;
    e.received_micros = 42;
    e.metadata["file-name"] = "google.com!example.com!1751932800!1752019199.json.gz";
    e.metadata["subject"] = "Report\r\n folded: 100% of it";
    return e;
}

} // namespace

TEST_CASE("spool entries round-trip, raw bytes and odd metadata intact")
{
    auto e = sample_entry();
    auto back = spool::read_entry(spool::write_entry(e));
    CHECK(back.raw == e.raw);
    CHECK(back.via == e.via);
    CHECK(back.source_address == e.source_address);
    CHECK(back.received_at == e.received_at);
    CHECK(back.received_micros == 42);
    CHECK(back.metadata == e.metadata);
}

TEST_CASE("an entry without a receive time reads as 0, which the drain stores as received now")
{
    auto back = spool::read_entry("stswatch-spool 1\ntransport: https\nraw-bytes: 3\n\nraw");
    CHECK(back.received_at == 0);
    CHECK(back.raw == "raw");
}

TEST_CASE("a receive time in whole seconds (older spool files) reads with no fraction")
{
    auto back = spool::read_entry("stswatch-spool 1\ntransport: https\nreceived-at: 1751932800\nraw-bytes: 3\n\nraw");
    CHECK(back.received_at == 1751932800);
    CHECK(back.received_micros == 0);
    back = spool::read_entry("stswatch-spool 1\ntransport: https\nreceived-at: 1751932800.000123\nraw-bytes: 3\n\nraw");
    CHECK(back.received_at == 1751932800);
    CHECK(back.received_micros == 123);
    for (const char* bad : {"1751932800.", "1751932800.12", "1751932800.1234567", "x1751932800", "1751932800.12345x", ""}) {
        INFO(bad);
        CHECK_THROWS(spool::read_entry(std::string("stswatch-spool 1\ntransport: https\nreceived-at: ") + bad +
                                       "\nraw-bytes: 3\n\nraw"));
    }
}

TEST_CASE("damaged spool entries are refused, not misread")
{
    std::string good = spool::write_entry(sample_entry());
    struct bad_case { std::string bytes; std::string reason; };
    std::vector<bad_case> cases = {
        {good.substr(0, good.size() - 3), "truncated"},
        {good + "x", "truncated"},     // more bytes than the header says is as suspicious
        {"something else\n\nbody", "not a spool file"},
        {"", "no header end"},
        {std::string(good).replace(good.find("smtp"), 4, "fax!"), "unknown transport"},
        {"stswatch-spool 1\ntransport: https\n\nraw", "incomplete header"},
        {std::string(good).replace(good.find("received-at: ") + 13, 10, "yesterday!"), "bad received-at"},
    };
    for (const auto& c : cases) {
        INFO(c.reason);
        CHECK_THROWS_WITH(spool::read_entry(c.bytes), Catch::Contains(c.reason));
    }
}

TEST_CASE("put writes durable files and counts them, a full spool says so")
{
    temp_dir dir;
    auto e = sample_entry();
    auto size = spool::write_entry(e).size();
    spool s(dir.path.string(), size * 2);
    CHECK(s.count() == 0);
    REQUIRE(s.put(e));
    REQUIRE(s.put(e));
    CHECK(s.count() == 2);
    CHECK(s.bytes() == size * 2);
    CHECK_FALSE(s.put(e));    // over max_bytes
    CHECK(s.count() == 2);

    std::size_t files = 0;
    for (const auto& f : fs::directory_iterator(dir.path)) {
        CHECK(f.path().extension() == ".report");
        std::ifstream in(f.path(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        CHECK(spool::read_entry(bytes).raw == e.raw);
        ++files;
    }
    CHECK(files == 2);

    // A new spool on the same directory finds what is waiting (after a restart).
    spool again(dir.path.string(), 0);
    CHECK(again.count() == 2);
    CHECK(again.bytes() == size * 2);
}

TEST_CASE("unfinished files left by a writer that died are removed once older than the grace period")
{
    temp_dir dir;
    const auto old_tmp = dir.path / ".00001733000000000000-1.tmp";
    const auto young_tmp = dir.path / ".00001733000000000001-2.tmp";
    const auto not_ours = dir.path / "notes.tmp";
    for (const auto& p : {old_tmp, young_tmp, not_ours})
        std::ofstream(p) << "half a report";
    const auto long_ago = fs::file_time_type::clock::now() - std::chrono::minutes(5);
    fs::last_write_time(old_tmp, long_ago);
    fs::last_write_time(not_ours, long_ago);

    spool s(dir.path.string(), 0);   // at start
    CHECK_FALSE(fs::exists(old_tmp));
    CHECK(fs::exists(young_tmp));    // may be another process's put() at work
    CHECK(fs::exists(not_ours));     // not a name put() makes
    CHECK(s.count() == 0);

    fs::last_write_time(young_tmp, long_ago);
    CHECK(s.remove_orphans(spool::orphan_grace) == 1);
    CHECK_FALSE(fs::exists(young_tmp));
    CHECK(s.remove_orphans(std::chrono::seconds(0)) == 0);
}
