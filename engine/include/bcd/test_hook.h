#pragma once
// A test hook, compiled in always (docs/training.md, "Checkpoint durability"): the environment
// variable BCD_TEST_STOP_AT="<phase>@<step>", read once, makes the engine raise SIGKILL on itself
// when the checkpoint of <step> reaches <phase>, so that a test can stop a checkpoint at each of
// its phases deterministically. Phases:
//   folder                 the checkpoint's folder exists, empty
//   write:<file>           <file>'s temporary copy is partly written
//   synced:<file>          the temporary copy is complete and synced, not yet renamed
//   renamed:<file>         renamed onto <file>, the folder not yet synced
//   written                the checkpoint is complete and its name synced; older ones remain
//   cleanup                the oldest checkpoint to drop has lost its DONE, its files remain
// Unset (production), a stop point costs one test of a flag; none lies on a training step's path.

#include <filesystem>
#include <string_view>

namespace bcd::test_hook {

// Marks the checkpoint of `step` as being written for the life of the object.
class CheckpointScope {
public:
    explicit CheckpointScope(long step);
    ~CheckpointScope();
    CheckpointScope(const CheckpointScope&) = delete;
    CheckpointScope& operator=(const CheckpointScope&) = delete;

private:
    long previous_;
};

// Whether BCD_TEST_STOP_AT is set (and well formed).
bool armed();
// SIGKILL now when BCD_TEST_STOP_AT names `phase` of the checkpoint being written.
void stop_point(std::string_view phase);
// The same for "<action>:<file name>".
void stop_point(std::string_view action, const std::filesystem::path& file);

} // namespace bcd::test_hook
