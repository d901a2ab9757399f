// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test's config
// and hook output files, removed with everything in it on destruction.
#pragma once

#include <string>

namespace afterhook::testing {

class TempDir {
public:
    TempDir();  // throws std::runtime_error when the directory cannot be made
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // Absolute path of `name` inside the directory (the file is not created).
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    // Writes `content` to `name` inside the directory and returns its path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string path_;
};

// Replaces the file at `path` with `content` in one step (writes a sibling,
// renames it over), so that a watcher never reads it half-written. Throws
// std::runtime_error when it cannot.
void replace_file(const std::string& path, const std::string& content);

}  // namespace afterhook::testing
