// Moved to tests/support/dns_server.hpp; this name stays for the tests that still include it.
#pragma once

#include "tests/support/dns_server.hpp"
