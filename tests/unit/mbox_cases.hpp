// Mailboxes and the messages split_mbox must find in them. Shared by the unit tests
// (tests/unit/test_mbox.cpp) and the fuzz seeds (tests/fuzz/seeds_mbox.cpp).
#pragma once

#include "mail/mbox.hpp"

#include <string>
#include <vector>

namespace stswatch::test {

struct expected_message {
    std::string from_line;
    std::string data;
    bool too_large = false;
};

struct mbox_case {
    std::string name;
    std::string input;
    std::vector<expected_message> messages;
    mbox_quoting quoting = mbox_quoting::mboxrd;
    std::size_t max_message_bytes = 4096;
};

inline const std::string mbox_from_1 = "sender@example.net Thu Nov 26 14:31:07 2026";
inline const std::string mbox_from_2 = "MAILER-DAEMON Fri Jul  8 12:08:34 2011";

inline std::vector<mbox_case> mbox_cases()
{
    const std::string big_body(5000, 'x');
    return {
        {"empty file", "", {}},
        {"blank lines only", "\n\r\n\n", {}},
        {"one message, LF, with the separator blank line at the end",
         "From " + mbox_from_1 + "\nSubject: a\n\nbody\n\n",
         {{mbox_from_1, "Subject: a\n\nbody\n"}}},
        {"two messages; the blank line between them belongs to neither",
         "From " + mbox_from_1 + "\nSubject: a\n\none\n\nFrom " + mbox_from_2 + "\nSubject: b\n\ntwo\n",
         {{mbox_from_1, "Subject: a\n\none\n"}, {mbox_from_2, "Subject: b\n\ntwo\n"}}},
        {"CRLF line ends",
         "From " + mbox_from_1 + "\r\nSubject: a\r\n\r\none\r\n\r\nFrom " + mbox_from_2 + "\r\nSubject: b\r\n\r\ntwo\r\n\r\n",
         {{mbox_from_1, "Subject: a\r\n\r\none\r\n"}, {mbox_from_2, "Subject: b\r\n\r\ntwo\r\n"}}},
        {"mixed CRLF and LF",
         "From " + mbox_from_1 + "\r\nSubject: a\n\r\none\r\n\nFrom " + mbox_from_2 + "\nb\n",
         {{mbox_from_1, "Subject: a\n\r\none\r\n"}, {mbox_from_2, "b\n"}}},
        {"message without a trailing line end",
         "From " + mbox_from_1 + "\nSubject: a\n\nlast line",
         {{mbox_from_1, "Subject: a\n\nlast line"}}},
        {"a quoted From_ line in the body is unquoted and does not split (mboxrd)",
         "From " + mbox_from_1 + "\nSubject: a\n\n>From here on\n>>From the quoted\n>not From\n",
         {{mbox_from_1, "Subject: a\n\nFrom here on\n>From the quoted\n>not From\n"}}},
        {"mboxo removes only the one '>' it added",
         "From " + mbox_from_1 + "\nSubject: a\n\n>From here on\n>>From the quoted\n",
         {{mbox_from_1, "Subject: a\n\nFrom here on\n>>From the quoted\n"}},
         mbox_quoting::mboxo},
        {"a quoted From_ line right after a blank line stays in the body",
         "From " + mbox_from_1 + "\nSubject: a\n\n>From " + mbox_from_2 + "\n",
         {{mbox_from_1, "Subject: a\n\nFrom " + mbox_from_2 + "\n"}}},
        {"an unquoted \"From \" line inside a paragraph does not split",
         "From " + mbox_from_1 + "\nSubject: a\n\nreports\nFrom the sender\n",
         {{mbox_from_1, "Subject: a\n\nreports\nFrom the sender\n"}}},
        {"a full From_ line without the blank line before it splits",
         "From " + mbox_from_1 + "\nSubject: a\n\none\nFrom " + mbox_from_2 + "\nSubject: b\n",
         {{mbox_from_1, "Subject: a\n\none\n"}, {mbox_from_2, "Subject: b\n"}}},
        {"blank lines inside a message and before the separator are kept but one",
         "From " + mbox_from_1 + "\na\n\n\n\nFrom " + mbox_from_2 + "\nb\n",
         {{mbox_from_1, "a\n\n\n"}, {mbox_from_2, "b\n"}}},
        {"\"From:\" is a header, not a From_ line",
         "From: sender@example.net\nSubject: a\n\nbody\n",
         {{"", "From: sender@example.net\nSubject: a\n\nbody\n"}}},
        {"bytes before the first From_ line are a message of their own",
         "stray text\n\nFrom " + mbox_from_1 + "\nSubject: a\n",
         {{"", "stray text\n"}, {mbox_from_1, "Subject: a\n"}}},
        {"blank lines before the first From_ line are dropped",
         "\n\r\nFrom " + mbox_from_1 + "\nSubject: a\n",
         {{mbox_from_1, "Subject: a\n"}}},
        {"an empty message between two others",
         "From " + mbox_from_1 + "\na\n\nFrom " + mbox_from_2 + "\n\nFrom " + mbox_from_1 + "\nc\n",
         {{mbox_from_1, "a\n"}, {mbox_from_2, ""}, {mbox_from_1, "c\n"}}},
        {"a message over the limit is skipped whole; the next one is read",
         "From " + mbox_from_1 + "\nSubject: big\n\n" + big_body + "\n" + big_body + "\n\nFrom " + mbox_from_2 + "\nSubject: b\n",
         {{mbox_from_1, "", true}, {mbox_from_2, "Subject: b\n"}}},
        {"one line longer than the limit",
         "From " + mbox_from_1 + "\nSubject: big\n\n" + big_body + "\n\nFrom " + mbox_from_2 + "\nb\n",
         {{mbox_from_1, "", true}, {mbox_from_2, "b\n"}}},
        {"a message of exactly the limit is kept",
         "From " + mbox_from_1 + "\n" + std::string(99, 'y') + "\n\nFrom " + mbox_from_2 + "\n" + std::string(100, 'z') + "\n",
         {{mbox_from_1, std::string(99, 'y') + "\n"}, {mbox_from_2, "", true}},
         mbox_quoting::mboxrd, 100},
        {"a last message over the limit without a line end",
         "From " + mbox_from_1 + "\na\n\nFrom " + mbox_from_2 + "\n" + big_body,
         {{mbox_from_1, "a\n"}, {mbox_from_2, "", true}}},
    };
}

} // namespace stswatch::test
