// Splitting an mbox file into messages (the "From_" line format of RFC 4155, with the
// mboxo and mboxrd quoting of body lines).
//
// Streaming: the file is read in chunks, and at most one message (bounded by
// max_message_bytes) plus one chunk is held at a time, so a mailbox of several GB is read
// in bounded memory. Pure apart from reading the istream it is given.
//
// Tolerant, because mailboxes come from many writers:
// - a message starts at a line beginning "From " that opens the file or follows a blank
//   line; a line that has the full From_ shape ("From sender Thu Nov 26 14:31:07 2026")
//   starts one even without the blank line before it (writers that forget it);
// - CRLF and LF line ends, also mixed; the message keeps the line ends it had;
// - the blank line that separates two messages is not part of either;
// - the last message may end without a line end;
// - bytes before the first From_ line (not an mbox writer's doing, but seen in
//   concatenated exports) are a message of their own unless they are only blank lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

// How body lines that begin with "From " were quoted when the mailbox was written.
enum class mbox_quoting {
    mboxrd,   // ">From ", ">>From " …: one '>' is removed from every such line
    mboxo,    // only ">From " becomes "From "; ">>From " stays as it is
};

struct mbox_options {
    mbox_quoting quoting = mbox_quoting::mboxrd;
    std::size_t max_message_bytes = 10485760;   // collector.max_body_bytes
    std::size_t chunk_bytes = 65536;            // bytes read from the stream at a time
};

struct mbox_message {
    std::size_t number = 0;          // 1-based position in the file
    std::uint64_t offset = 0;        // byte offset of its From_ line (or of its first byte)
    std::string from_line;           // the From_ line without "From " and its line end
    std::string data;                // the message, unquoted; empty when too_large
    std::uint64_t size = 0;          // bytes of the message in the file (quoted, as stored)
    bool too_large = false;          // over max_message_bytes: its bytes were skipped
};

// True when data (the first bytes of a file) is an mbox: it begins with "From ".
bool looks_like_mbox(std::string_view first_bytes);

class mbox_reader {
public:
    // Throws std::invalid_argument for a zero max_message_bytes or chunk_bytes.
    explicit mbox_reader(std::istream& in, mbox_options options = {});
    mbox_reader(const mbox_reader&) = delete;
    mbox_reader& operator=(const mbox_reader&) = delete;

    // The next message, or false at the end of the file. Throws std::runtime_error when
    // reading the stream fails (not at its end).
    bool next(mbox_message& message);

    // Bytes read from the stream so far.
    std::uint64_t bytes_read() const { return consumed_; }

private:
    struct line_view {
        std::string text;            // at most the cap asked for, line end included
        std::uint64_t length = 0;    // whole length of the line, line end included
        bool ends_line = false;      // false only for the last line of a file without a line end
    };
    bool read_line(line_view& line, std::size_t cap);
    bool fill();

    std::istream& in_;
    mbox_options options_;
    std::string buffer_;
    std::size_t pos_ = 0;
    bool eof_ = false;
    std::uint64_t consumed_ = 0;     // bytes of the stream handed out as lines
    std::size_t number_ = 0;
    bool have_pending_from_ = false; // a From_ line read that opens the next message
    std::string pending_from_;
    std::uint64_t pending_offset_ = 0;
    bool started_ = false;
};

// The whole of data split at once (tests, the fuzz target, small files).
std::vector<mbox_message> split_mbox(std::string_view data, const mbox_options& options = {});

} // namespace stswatch
