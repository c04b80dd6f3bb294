#include "train/checkpoint.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"
#include "bcd/state_file.h"
#include "bcd/test_hook.h"

#include <algorithm>
#include <cstdio>

namespace fs = std::filesystem;
using nlohmann::json;

namespace bcd {

std::string checkpoint_name(long step) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "step-%08ld", step);
    return buf;
}

std::vector<std::pair<long, fs::path>> complete_checkpoints(const fs::path& run_dir) {
    std::vector<std::pair<long, fs::path>> out;
    std::error_code ec;
    const fs::path dir = run_dir / "checkpoints";
    if (!fs::is_directory(dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (!name.starts_with("step-") || name.size() != 13 || !fs::exists(e.path() / "DONE"))
            continue;
        try {
            out.emplace_back(std::stol(name.substr(5)), e.path());
        } catch (const std::exception&) {
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

namespace {

// Everything of a checkpoint, DONE last: model files, the caller's files, state.bin.
void write_checkpoint_files(const fs::path& dir, long step, Model& model, Backend& backend,
                            json header, const std::function<void(const fs::path&)>& add_files) {
    backend.sync_to_host();
    model.save(dir, DType::F32);
    if (add_files) add_files(dir);

    json blocks = json::array();
    std::vector<BlockState> states;
    std::vector<int> ids = backend.blocks_with_state();
    for (int id : ids) states.push_back(backend.read_state(id));
    std::vector<StateArray> arrays;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const int id = ids[i];
        json b{{"id", id}, {"t", states[i].t}};
        if (!states[i].m.empty()) {
            b["m"] = "block" + std::to_string(id) + ".m";
            arrays.push_back({b["m"], states[i].m.span()});
        }
        if (!states[i].v.empty()) {
            b["v"] = "block" + std::to_string(id) + ".v";
            arrays.push_back({b["v"], states[i].v.span()});
        }
        blocks.push_back(b);
    }
    header["blocks"] = blocks;
    write_state_file(dir / "state.bin", header, arrays);
    write_file_atomic(dir / "DONE", std::to_string(step) + "\n");
}

} // namespace

fs::path write_checkpoint(const fs::path& run_dir, long step, Model& model, Backend& backend,
                          json header, const std::function<void(const fs::path&)>& add_files,
                          int keep) {
    const fs::path root = run_dir / "checkpoints";
    const fs::path dir = root / checkpoint_name(step);
    const test_hook::CheckpointScope hook(step);
    std::error_code ec;
    fs::remove_all(dir, ec); // an incomplete attempt at the same step
    fs::create_directories(dir, ec);
    if (ec) {
        if (ec == std::errc::no_space_on_device) throw DiskFullError(root.string(), dir.string());
        throw InternalError("cannot create " + dir.string() + ": " + ec.message());
    }
    test_hook::stop_point("folder");
    try {
        write_checkpoint_files(dir, step, model, backend, std::move(header), add_files);
    } catch (const DiskFullError& e) {
        // A partial folder is never a checkpoint (no DONE); removing it gives back the space it
        // took, so that the status and the end record of the failed run can still be written.
        fs::remove_all(dir, ec);
        throw DiskFullError(root.string(), e.file());
    } catch (...) {
        fs::remove_all(dir, ec);
        throw;
    }
    sync_directory(root); // the new folder's name is durable before older ones are dropped
    test_hook::stop_point("written");

    // Keep the newest `keep` complete ones; drop incomplete leftovers of crashes. DONE goes
    // first: a removal cut short (a crash, a kill) leaves an incomplete folder, which the next
    // checkpoint drops, never a "complete" one with files missing.
    auto done = complete_checkpoints(run_dir);
    while (static_cast<int>(done.size()) > keep) {
        fs::remove(done.front().second / "DONE", ec);
        test_hook::stop_point("cleanup");
        fs::remove_all(done.front().second, ec);
        done.erase(done.begin());
    }
    for (const auto& e : fs::directory_iterator(root, ec))
        if (!fs::exists(e.path() / "DONE")) fs::remove_all(e.path(), ec);
    return dir;
}

CheckpointState read_checkpoint_state(const fs::path& dir,
                                      const std::function<void(const json&)>& check_header,
                                      const ParamLayout& layout, const std::vector<Block>& blocks,
                                      const OptimizerSettings& optimizer) {
    auto st = read_state_file(dir / "state.bin");
    const std::string sfile = (dir / "state.bin").string();
    if (check_header) check_header(st.header);
    CheckpointState out;
    const int per_param = state_floats_per_param(optimizer);
    for (const auto& b : st.header.at("blocks")) {
        const int id = b.at("id").get<int>();
        if (id < 0 || id >= static_cast<int>(blocks.size()))
            throw InputError(sfile, "blocks", "block id out of range for this partition");
        const std::size_t total = packed_layout(layout, blocks[static_cast<std::size_t>(id)]).total;
        BlockState bs;
        bs.t = b.at("t").get<long>();
        for (const char* which : {"m", "v"}) {
            const bool wanted = std::string(which) == "m" ? per_param >= 1 : per_param >= 2;
            if (!b.contains(which)) {
                if (wanted)
                    throw InputError(sfile, std::string("blocks.") + which,
                                     "optimizer state missing for block " + std::to_string(id));
                continue;
            }
            FloatBuffer* src = st.find(b.at(which).get<std::string>());
            if (!src || src->size() != total)
                throw InputError(sfile, std::string("blocks.") + which,
                                 "optimizer state does not match the block's size");
            (std::string(which) == "m" ? bs.m : bs.v) = std::move(*src);
        }
        out.blocks.emplace_back(id, std::move(bs));
    }
    out.header = std::move(st.header);
    return out;
}

} // namespace bcd
