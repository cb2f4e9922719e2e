#include "mail/mbox.hpp"
#include "tests/support/memory_use.hpp"
#include "tests/unit/mbox_cases.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <streambuf>
#include <string>

using namespace stswatch;
using stswatch::test::mbox_cases;
using stswatch::test::status_kib;

namespace {

std::vector<mbox_message> read_all(const std::string& input, const mbox_options& options)
{
    std::istringstream in(input);
    mbox_reader reader(in, options);
    std::vector<mbox_message> out;
    mbox_message m;
    while (reader.next(m))
        out.push_back(std::move(m));
    CHECK(reader.bytes_read() == input.size());
    return out;
}

// An mbox made on the fly, a line at a time: count messages of about body_bytes each.
class generated_mbox : public std::streambuf {
public:
    generated_mbox(std::size_t count, std::size_t body_bytes) : count_(count), body_bytes_(body_bytes) {}

protected:
    int_type underflow() override
    {
        if (body_left_ == 0 && !separator_due_) {
            if (made_ == count_)
                return traits_type::eof();
            ++made_;
            current_ = "From sender@example.net Thu Nov 26 14:31:07 2026\nSubject: message " +
                       std::to_string(made_) + "\n\n";
            body_left_ = body_bytes_;
            separator_due_ = true;
        } else if (body_left_ > 0) {
            current_.assign(std::min<std::size_t>(body_left_, 72), 'b');
            current_.back() = '\n';
            body_left_ -= current_.size();
        } else {
            current_ = "\n";
            separator_due_ = false;
        }
        setg(current_.data(), current_.data(), current_.data() + current_.size());
        return traits_type::to_int_type(current_[0]);
    }

private:
    std::size_t count_, body_bytes_, made_ = 0, body_left_ = 0;
    bool separator_due_ = false;
    std::string current_;
};

} // namespace

TEST_CASE("mbox: every case of the table, read in chunks of any size")
{
    const auto cases = mbox_cases();
    REQUIRE(cases.size() >= 21);   // the table as it stands: an emptied one must not pass
    for (const auto& c : cases) {
        for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}, std::size_t{65536}}) {
            INFO(c.name << " (chunks of " << chunk << " bytes)");
            mbox_options options;
            options.quoting = c.quoting;
            options.max_message_bytes = c.max_message_bytes;
            options.chunk_bytes = chunk;
            const auto got = read_all(c.input, options);
            REQUIRE(got.size() == c.messages.size());
            for (std::size_t i = 0; i < got.size(); ++i) {
                INFO("message " << i + 1);
                CHECK(got[i].number == i + 1);
                CHECK(got[i].from_line == c.messages[i].from_line);
                CHECK(got[i].data == c.messages[i].data);
                CHECK(got[i].too_large == c.messages[i].too_large);
                CHECK(got[i].data.size() <= got[i].size);
                if (!got[i].from_line.empty())
                    CHECK(c.input.compare(got[i].offset, 5, "From ") == 0);
            }
        }
    }
}

TEST_CASE("mbox: offsets and sizes say where each message is in the file")
{
    const std::string first = "From a@example.net Thu Nov 26 14:31:07 2026\nSubject: a\n\n>From x\n";
    const std::string second = "From b@example.net Thu Nov 26 14:31:08 2026\r\nSubject: b\r\n";
    const auto got = split_mbox(first + "\n" + second);
    REQUIRE(got.size() == 2);
    CHECK(got[0].offset == 0);
    // The size counts the lines as stored (">From" with its '>'), without the From_ line
    // and the separator.
    CHECK(got[0].size == first.size() - first.find('\n') - 1);
    CHECK(got[0].data == "Subject: a\n\nFrom x\n");
    CHECK(got[1].offset == first.size() + 1);
    CHECK(got[1].size == second.size() - second.find('\n') - 1);
}

TEST_CASE("mbox: detection by the first bytes")
{
    CHECK(looks_like_mbox("From sender@example.net Thu Nov 26 14:31:07 2026\n"));
    CHECK(looks_like_mbox("From "));
    CHECK_FALSE(looks_like_mbox("From: sender@example.net\n"));
    CHECK_FALSE(looks_like_mbox("Return-Path: <a@example.net>\n"));
    CHECK_FALSE(looks_like_mbox(""));
    CHECK_FALSE(looks_like_mbox("{\"organization-name\":\"x\"}"));
}

TEST_CASE("mbox: a limit of zero is refused")
{
    std::istringstream in("");
    mbox_options options;
    options.max_message_bytes = 0;
    CHECK_THROWS_AS(mbox_reader(in, options), std::invalid_argument);
    options.max_message_bytes = 10;
    options.chunk_bytes = 0;
    CHECK_THROWS_AS(mbox_reader(in, options), std::invalid_argument);
}

TEST_CASE("mbox: a large mailbox is read in bounded memory")
{
    // 400 MB of 64 KB messages: memory must stay near one message and one chunk, not grow
    // with the file.
    constexpr std::size_t messages = 6400, body = 64 * 1024;
    generated_mbox source(messages, body);
    std::istream in(&source);
    mbox_options options;
    options.max_message_bytes = 1 << 20;
    mbox_reader reader(in, options);
    const long before = status_kib("VmRSS");
    std::size_t count = 0;
    std::uint64_t bytes = 0;
    mbox_message m;
    while (reader.next(m)) {
        ++count;
        REQUIRE_FALSE(m.too_large);
        REQUIRE(m.data.rfind("Subject: message " + std::to_string(count) + "\n", 0) == 0);
        bytes += m.size;
    }
    CHECK(count == messages);
    CHECK(bytes > messages * body);
    const long grown = status_kib("VmHWM") - before;
    CHECK(grown < 16 * 1024);
}

TEST_CASE("mbox: a message far over the limit is skipped without being held")
{
    generated_mbox source(1, 64 << 20);   // one 64 MB message
    std::istream in(&source);
    mbox_options options;
    options.max_message_bytes = 1 << 20;
    mbox_reader reader(in, options);
    const long before = status_kib("VmRSS");
    mbox_message m;
    REQUIRE(reader.next(m));
    CHECK(m.too_large);
    CHECK(m.data.empty());
    CHECK(m.size > std::uint64_t{64} << 20);
    CHECK_FALSE(reader.next(m));
    CHECK(status_kib("VmHWM") - before < 8 * 1024);
}
