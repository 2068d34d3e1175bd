// Hints to the operating system about large freshly allocated outputs.
#pragma once
#include <cstddef>

namespace speedlimits::memory {

// Outputs at least this large are backed by transparent huge pages when the system allows it
// (the same threshold NumPy uses for its arrays).
constexpr std::size_t kHugePageMin = std::size_t(4) << 20;

// Whether advice is given at all: yes unless the environment sets SPEEDLIMITS_MADVISE_HUGEPAGE=0
// (read once; NumPy's NUMPY_MADVISE_HUGEPAGE plays the same role). Worth turning off on VMs whose
// host reclaims freed 2 MiB blocks (free page reporting): there a huge page is sometimes backed
// afresh by the host, and its first touch is then slower than 4 KiB pages (see docs/performance.md).
bool huge_pages_enabled() noexcept;

// Ask the kernel to back the not-yet-touched pages of [p, p + bytes) with 2 MiB pages
// (madvise(MADV_HUGEPAGE) on the 2 MiB-aligned interior): the first write then takes one page
// fault per 2 MiB instead of one per 4 KiB, which on a VM costs as much as generating the data.
// Only advice: a no-op below kHugePageMin, when disabled, on systems without transparent huge
// pages, or when the kernel refuses; the contents are never changed. Returns whether advice was given.
bool advise_huge_pages(void* p, std::size_t bytes) noexcept;

}  // namespace speedlimits::memory
