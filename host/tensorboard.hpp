// TensorBoard event files for a run's metrics: every number of every metrics line becomes a
// scalar summary, so that TensorBoard (or any reader of its format) draws the run's curves.
//
// The format is TensorBoard's: a sequence of records (little-endian uint64 length, masked CRC-32C
// of the length, the serialised Event protobuf, masked CRC-32C of the data) in a file whose name
// holds "tfevents". The Event and Summary messages are encoded by protobuf (host/
// tensorboard_event.proto, TensorBoard's field numbers) and the CRC is Boost's CRC-32C.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace metasim {

// CRC-32C (Castagnoli) of n bytes, and the masked form TensorBoard's records carry.
uint32_t crc32c(const void* data, std::size_t n);
uint32_t tensorboard_masked_crc(const void* data, std::size_t n);

// One scalar as an event file holds it.
struct TensorBoardScalar {
  std::string tag;
  int64_t step = 0;
  double wall_time = 0;
  float value = 0;
};

// The scalars of one event file, in file order. Throws Error naming the file when a record is
// truncated or fails its CRC.
std::vector<TensorBoardScalar> read_tensorboard_scalars(const std::string& path);

// The event files metasim wrote in dir (names ending in ".metasim"), oldest first.
std::vector<std::string> tensorboard_event_files(const std::string& dir);

// Writes a run's metrics lines into a new event file in dir (created if missing). Each line
// {"iteration": i, "samples": s, name: number, ...} gives two events: the line's numbers but
// "iteration" tagged by their names at step i, and its numbers but "samples" tagged
// "<sample_unit>/<name>" at step s (nested
// objects are flattened to "outer/inner"; strings and booleans are left out), so that TensorBoard
// can draw every curve against iterations or against env steps (or tasks).
class TensorBoardWriter {
 public:
  // Where a resumed run continues: the events of dir's metasim event files up to this iteration
  // (and its sample count) are copied into the new file and the older files removed, so that the
  // steps logged after the checkpoint, which the resumed run logs again, are not duplicated.
  struct Resume {
    int64_t iteration = 0;
    int64_t samples = 0;
  };
  TensorBoardWriter(const std::string& dir, const std::string& sample_unit,
                    std::optional<Resume> resume);
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Appends one metrics line's events and flushes them. Throws Error naming the file when the
  // write fails.
  void write_metrics(const nlohmann::json& line);
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& bytes);

  std::string path_, unit_;
  std::ofstream out_;
};

}  // namespace metasim
