// Writing files so that a reader never sees a partial one: temporary file, flush, fsync, rename.
// Used for replay output, metrics snapshots and checkpoints.
#pragma once

#include <string>
#include <string_view>

namespace metasim {

// Replaces `path` with `content` atomically; on failure `path` is untouched and the temporary
// file is removed. Throws metasim::Error naming the path.
void write_file_atomically(const std::string& path, std::string_view content);

}  // namespace metasim
