// Giving memory back to the system after a large input.
#pragma once

#include <cstddef>

#include <malloc.h>

namespace stswatch {

// Inputs at least this large (a 10 MiB report mail, a large HTTPS body) leave megabytes of
// freed blocks in the allocator's arenas, which glibc keeps: RSS stayed at 96 MB after one
// such message. After one, the free memory of every arena goes back to the system.
constexpr std::size_t large_input_bytes = 1 << 20;

inline void release_free_memory_after(std::size_t input_bytes)
{
    if (input_bytes >= large_input_bytes)
        ::malloc_trim(0);
}

} // namespace stswatch
