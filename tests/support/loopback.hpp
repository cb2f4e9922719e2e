// Loopback addresses for servers that tests start on fixed ports (443, 25): each server gets
// an address of its own, so tests running at once never meet on one address:port.
#pragma once

#include <string>

namespace stswatch::test {

// A random loopback address 127.A.B.C (A in 64..254, B and C in 1..254) for one server of one
// test, so that tests running at once never share an address:port. Callers retry on EADDRINUSE.
// Never the same address twice within one process.
std::string unique_loopback_address();

} // namespace stswatch::test
