#include "mail/mbox.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace stswatch {

namespace {

// Enough of a line to tell a From_ line or a quoted ">From " line, and to keep a From_
// line's text, when the rest of the line is not needed.
constexpr std::size_t line_head_bytes = 1024;

bool starts_with(std::string_view text, std::string_view prefix)
{
    return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool is_blank_line(std::string_view line)
{
    return line == "\n" || line == "\r\n";
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view without_line_end(std::string_view line)
{
    if (!line.empty() && line.back() == '\n')
        line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

// RFC 4155: "From " sender, then the date in asctime form ("Thu Nov 26 14:31:07 2026",
// possibly with a zone after it). A body line that merely begins with "From " has no
// hh:mm time and year in it; this tells a real From_ line that lacks its blank line before.
bool has_from_line_shape(std::string_view line)
{
    std::string_view rest = without_line_end(line).substr(5);
    const auto space = rest.find(' ');
    if (rest.empty() || rest[0] == ' ' || space == std::string_view::npos)
        return false;
    rest.remove_prefix(space + 1);
    bool time = false, year = false;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const std::string_view at = rest.substr(i);
        // "14:31" of "14:31:07"
        if (at.size() >= 4 && is_digit(at[0]) && at[1] == ':' && is_digit(at[2]) && is_digit(at[3]))
            time = true;
        // "2026" standing alone as a word
        if (at.size() >= 4 && (i == 0 || rest[i - 1] == ' ') && is_digit(at[0]) && is_digit(at[1]) &&
            is_digit(at[2]) && is_digit(at[3]) && (at.size() == 4 || at[4] == ' '))
            year = true;
    }
    return time && year;
}

// Undoes the quoting of body lines that began with "From " when the mailbox was written.
void unquote(std::string& line, mbox_quoting quoting)
{
    if (line.empty() || line[0] != '>')
        return;
    std::size_t quotes = line.find_first_not_of('>');
    if (quotes == std::string::npos || !starts_with(std::string_view(line).substr(quotes), "From "))
        return;
    // mboxrd: every level of quoting loses one '>'; mboxo only ever added one, to "From ".
    if (quoting == mbox_quoting::mboxrd || quotes == 1)
        line.erase(0, 1);
}

} // namespace

bool looks_like_mbox(std::string_view first_bytes)
{
    return starts_with(first_bytes, "From ");
}

mbox_reader::mbox_reader(std::istream& in, mbox_options options) : in_(in), options_(options)
{
    if (options_.max_message_bytes == 0)
        throw std::invalid_argument("mbox: max_message_bytes must be at least 1");
    if (options_.chunk_bytes == 0)
        throw std::invalid_argument("mbox: chunk_bytes must be at least 1");
}

bool mbox_reader::fill()
{
    if (eof_)
        return false;
    buffer_.resize(options_.chunk_bytes);
    in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    const auto got = static_cast<std::size_t>(in_.gcount());
    buffer_.resize(got);
    pos_ = 0;
    if (got == 0) {
        if (in_.bad())
            throw std::runtime_error("mbox: read failed after " + std::to_string(consumed_) + " bytes");
        eof_ = true;
        return false;
    }
    return true;
}

bool mbox_reader::read_line(line_view& line, std::size_t cap)
{
    line.text.clear();
    line.length = 0;
    line.ends_line = false;
    for (;;) {
        if (pos_ == buffer_.size() && !fill())
            return line.length > 0;
        const auto newline = buffer_.find('\n', pos_);
        const std::size_t end = newline == std::string::npos ? buffer_.size() : newline + 1;
        const std::size_t take = end - pos_;
        if (line.text.size() < cap)
            line.text.append(buffer_, pos_, std::min(take, cap - line.text.size()));
        line.length += take;
        consumed_ += take;
        pos_ = end;
        if (newline != std::string::npos) {
            line.ends_line = true;
            return true;
        }
    }
}

bool mbox_reader::next(mbox_message& message)
{
    message = mbox_message{};
    bool preamble = false;        // bytes before the first From_ line
    if (have_pending_from_) {
        have_pending_from_ = false;
        message.from_line = std::string(without_line_end(pending_from_).substr(5));
        message.offset = pending_offset_;
    } else if (!started_) {
        started_ = true;
        preamble = true;
    } else {
        return false;
    }

    bool content = !preamble;     // a preamble of blank lines only is no message
    bool previous_blank = preamble;   // the start of the file counts as after a blank line
    std::string held_blank;       // may be the separator before the next From_ line
    std::uint64_t held_blank_length = 0;
    line_view line;

    // truncated: read_line kept only the head of a line too long for the room left.
    auto append = [&](const std::string& text, std::uint64_t length, bool truncated) {
        message.size += length;
        if (message.too_large)
            return;
        if (truncated || message.data.size() + text.size() > options_.max_message_bytes) {
            message.too_large = true;
            std::string().swap(message.data);   // give the memory back now
            return;
        }
        message.data += text;
    };

    for (;;) {
        const std::size_t room = message.too_large ? 0 : options_.max_message_bytes - message.data.size() + 1;
        const std::uint64_t line_offset = consumed_;
        if (!read_line(line, std::max(room, line_head_bytes)))
            break;
        const bool blank = is_blank_line(line.text);
        if (starts_with(line.text, "From ") && (previous_blank || has_from_line_shape(line.text))) {
            if (preamble && !content) {
                // Only blank lines before the first From_ line: this one opens message 1.
                preamble = false;
                content = true;
                message = mbox_message{};
                message.from_line = std::string(without_line_end(line.text).substr(5));
                message.offset = line_offset;
                held_blank.clear();
                held_blank_length = 0;
                previous_blank = false;
                continue;
            }
            have_pending_from_ = true;
            pending_from_ = line.text;
            pending_offset_ = line_offset;
            break;   // the held blank line was the separator: it belongs to neither message
        }
        if (held_blank_length) {
            append(held_blank, held_blank_length, false);
            held_blank.clear();
            held_blank_length = 0;
        }
        if (blank) {
            held_blank = line.text;
            held_blank_length = line.length;
        } else {
            content = true;
            const bool truncated = line.length > line.text.size();
            unquote(line.text, options_.quoting);
            append(line.text, line.length, truncated);
        }
        previous_blank = blank;
    }
    // A blank line still held at the end of the file is dropped: mbox writers put one after
    // every message, the last one too.
    if (!content)
        return false;
    message.number = ++number_;
    return true;
}

std::vector<mbox_message> split_mbox(std::string_view data, const mbox_options& options)
{
    std::istringstream in{std::string(data)};
    mbox_reader reader(in, options);
    std::vector<mbox_message> messages;
    mbox_message message;
    while (reader.next(message))
        messages.push_back(std::move(message));
    return messages;
}

} // namespace stswatch
