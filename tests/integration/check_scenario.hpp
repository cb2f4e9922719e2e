// Moved to tests/support/check_scenario.hpp; this name stays for the tests that still include it.
#pragma once

#include "tests/support/check_scenario.hpp"
