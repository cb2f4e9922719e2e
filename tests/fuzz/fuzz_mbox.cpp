// The mbox splitter on arbitrary bytes: it never holds a message over the limit, numbers
// messages in order, accounts for every byte it keeps, and gives the same messages however
// the stream is chunked.
#include "mail/mbox.hpp"
#include "tests/fuzz/invariant.hpp"

namespace {

// Every line is "\n" or "\r\n" (the empty input too).
bool only_blank_lines(std::string_view input)
{
    std::size_t i = 0;
    while (i < input.size()) {
        if (input[i] == '\n')
            i += 1;
        else if (input.substr(i, 2) == "\r\n")
            i += 2;
        else
            return false;
    }
    return true;
}

} // namespace

STSWATCH_FUZZ_TARGET(fuzz_mbox, input)
{
    // The first byte picks the variant and the limit, so both are explored.
    mbox_options options;
    options.quoting = size > 0 && (data[0] & 1) ? mbox_quoting::mboxo : mbox_quoting::mboxrd;
    options.max_message_bytes = size > 0 ? 1 + data[0] * 64u : 4096;
    options.chunk_bytes = 4096;
    const auto whole = split_mbox(input, options);
    options.chunk_bytes = 3;
    const auto chunked = split_mbox(input, options);

    check(whole.size() == chunked.size(), "the same number of messages in any chunk size");
    std::uint64_t kept = 0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        const auto& m = whole[i];
        check(m.number == i + 1, "messages are numbered in order from 1");
        check(m.data.size() <= options.max_message_bytes, "no message over the limit is held");
        check(!m.too_large || m.data.empty(), "a message over the limit is dropped whole");
        check(m.data.size() <= m.size, "unquoting only removes bytes");
        check(m.offset <= size, "offsets lie inside the input");
        check(i == 0 || m.offset > whole[i - 1].offset, "offsets increase");
        check(m.from_line.empty() || input.substr(m.offset, 5) == "From ", "a From_ line is where its offset says");
        check(m.data == chunked[i].data && m.from_line == chunked[i].from_line && m.size == chunked[i].size &&
                  m.too_large == chunked[i].too_large && m.offset == chunked[i].offset,
              "chunking does not change a message");
        kept += m.size;
    }
    check(kept <= size, "no byte belongs to two messages");
    check(whole.empty() == only_blank_lines(input), "input with any non-blank line yields a message");
    return 0;
}
