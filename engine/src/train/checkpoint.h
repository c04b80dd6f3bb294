#pragma once
// A run's checkpoints (DESIGN.md §3): checkpoints/step-NNNNNNNN/ holds the model in HF layout,
// the tokenizer files, state.bin (step, data cursor, schedule place, every block's optimizer
// state, the config) and DONE, written last. Only folders with DONE are complete.

#include "bcd/backend.h"
#include "bcd/model.h"

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace bcd {

// "step-%08ld".
std::string checkpoint_name(long step);

// Complete checkpoints of a run folder (with DONE), oldest first.
std::vector<std::pair<long, std::filesystem::path>>
complete_checkpoints(const std::filesystem::path& run_dir);

// Writes checkpoints/<checkpoint_name(step)> of run_dir: the backend's weights (synced to the
// host model first), what `add_files` puts beside them (tokenizer files), state.bin with `header`
// plus every block's optimizer state ("blocks": [{id, t, m, v}]), then DONE. Keeps the newest
// `keep` complete checkpoints and removes incomplete leftovers. Returns the folder.
std::filesystem::path
write_checkpoint(const std::filesystem::path& run_dir, long step, Model& model, Backend& backend,
                 nlohmann::json header,
                 const std::function<void(const std::filesystem::path&)>& add_files, int keep);

// A checkpoint's state.bin, read once: the header, given to `check_header` first (which throws
// when the checkpoint belongs to another run), then the optimizer state of each block it lists,
// checked against the partition. Throws InputError naming the file when anything does not fit.
struct CheckpointState {
    nlohmann::json header;
    std::vector<std::pair<int, BlockState>> blocks;
};
CheckpointState
read_checkpoint_state(const std::filesystem::path& dir,
                      const std::function<void(const nlohmann::json&)>& check_header,
                      const ParamLayout& layout, const std::vector<Block>& blocks,
                      const OptimizerSettings& optimizer);

} // namespace bcd
