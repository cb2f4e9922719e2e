// This process's memory use, for tests that bound it (Linux /proc).
#pragma once

#include <string>

namespace stswatch::test {

// A field of /proc/self/status in KiB (VmRSS, VmHWM); FAILs the test when it is not there.
long status_kib(const std::string& field);

// Resets the peak RSS (VmHWM) to the current RSS; false where the kernel cannot (Linux < 4.0).
bool reset_peak_rss();

} // namespace stswatch::test
