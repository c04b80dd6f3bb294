#include "bcd/model.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"
#include "bcd/rng.h"
#include "core/json_reader.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace bcd {

namespace {

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

std::string shape_str(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Tensors HF checkpoints may carry that are not parameters of the model.
bool ignorable(std::string_view name, bool tied) {
    if (name.ends_with(".rotary_emb.inv_freq")) return true;
    return tied && name == "lm_head.weight";
}

} // namespace

Model::Model(ModelConfig cfg) : cfg_(std::move(cfg)), layout_(cfg_), params_(layout_.total()) {}

std::span<float> Model::tensor(int index) {
    const auto& p = layout_.params()[static_cast<std::size_t>(index)];
    return {params_.data() + p.offset, p.numel};
}

std::span<const float> Model::tensor(int index) const {
    const auto& p = layout_.params()[static_cast<std::size_t>(index)];
    return {params_.data() + p.offset, p.numel};
}

void Model::init_random(std::uint64_t seed) {
    const auto& ps = layout_.params();
    const float std_dev = static_cast<float>(cfg_.initializer_range);
#pragma omp parallel for schedule(dynamic, 1)
    for (std::size_t i = 0; i < ps.size(); ++i) {
        const auto& p = ps[i];
        float* t = params_.data() + p.offset;
        switch (p.kind) {
        case ParamKind::Norm:
            for (std::size_t j = 0; j < p.numel; ++j) t[j] = 1.0f;
            break;
        case ParamKind::Bias:
            for (std::size_t j = 0; j < p.numel; ++j) t[j] = 0.0f;
            break;
        case ParamKind::Embedding:
        case ParamKind::Matrix: {
            Rng rng(seed ^ fnv1a(p.name));
            for (std::size_t j = 0; j < p.numel; ++j)
                t[j] = std_dev * static_cast<float>(rng.normal());
            break;
        }
        }
    }
}

Model Model::load(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    Model m(load_model_config(dir));
    const auto single = dir / "model.safetensors";
    const auto index = dir / "model.safetensors.index.json";
    if (fs::exists(single)) {
        const auto f = SafetensorsFile::open(single);
        m.load_weights(std::span<const SafetensorsFile>(&f, 1));
        return m;
    }
    if (!fs::exists(index))
        throw InputError(single.string(), "",
                         "no such file (expected the model's weights: model.safetensors, or "
                         "model.safetensors.index.json with its shards)");
    // Sharded: the index maps every tensor to its file; each file is opened (mapped) once.
    const nlohmann::json j = read_json_file(index);
    const JsonObject top(j, index.string(), "");
    const JsonObject map = top.object("weight_map");
    std::map<std::string, std::string> tensor_file;
    std::vector<std::string> files;
    for (auto it = map.raw_object().begin(); it != map.raw_object().end(); ++it) {
        if (!it.value().is_string())
            map.fail(it.key(), "expected a file name, got " + json_brief(it.value()));
        const std::string f = it.value().get<std::string>();
        if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos ||
            f == "." || f == "..")
            map.fail(it.key(), "expected a file name in the model folder, got \"" + f + "\"");
        tensor_file[it.key()] = f;
        if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
    }
    std::vector<SafetensorsFile> shards;
    for (const auto& f : files) {
        if (!fs::exists(dir / f))
            throw InputError(index.string(), "weight_map",
                             "names \"" + f + "\", which does not exist");
        shards.push_back(SafetensorsFile::open(dir / f));
    }
    // The index and the shards must agree: each tensor in the file the index names.
    for (std::size_t i = 0; i < shards.size(); ++i)
        for (const auto& t : shards[i].tensors()) {
            auto it = tensor_file.find(t.name);
            if (it == tensor_file.end() || it->second != files[i])
                throw InputError(shards[i].label(), "tensor '" + t.name + "'",
                                 it == tensor_file.end()
                                     ? "is not in model.safetensors.index.json's weight_map"
                                     : "is listed in the index under " + it->second);
        }
    for (const auto& [name, f] : tensor_file) {
        const auto i =
            static_cast<std::size_t>(std::find(files.begin(), files.end(), f) - files.begin());
        if (!shards[i].find(name))
            throw InputError(index.string(), "weight_map." + name, "is not in " + f);
    }
    m.load_weights(shards);
    return m;
}

void Model::load_weights(std::span<const SafetensorsFile> files) {
    std::set<std::string> seen;
    for (const auto& file : files) {
        for (const auto& t : file.tensors()) {
            const int idx = layout_.find(t.name);
            if (idx < 0) {
                if (ignorable(t.name, cfg_.tie_word_embeddings)) continue;
                throw InputError(file.label(), "tensor '" + t.name + "'",
                                 "the model (" + cfg_.architecture + ", " +
                                     std::to_string(cfg_.num_layers) +
                                     " layers) has no such parameter; is config.json the one of "
                                     "these weights?");
            }
            const auto& p = layout_.params()[static_cast<std::size_t>(idx)];
            if (t.shape != p.shape)
                throw InputError(file.label(), "tensor '" + t.name + "'",
                                 "expected shape " + shape_str(p.shape) +
                                     " from config.json, got " + shape_str(t.shape));
            if (!seen.insert(t.name).second)
                throw InputError(file.label(), "tensor '" + t.name + "'", "appears in two files");
            file.read_f32(t, tensor(idx));
        }
    }
    for (const auto& p : layout_.params())
        if (!seen.count(p.name))
            throw InputError(files.empty() ? std::string("weights") : files.front().label(),
                             "tensor '" + p.name + "'",
                             "is missing (expected every parameter of the model)");
}

void Model::save(const std::filesystem::path& dir, DType dtype,
                 std::uint64_t max_shard_bytes) const {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InternalError("cannot create " + dir.string() + ": " + ec.message());
    ModelConfig c = cfg_;
    c.torch_dtype = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";

    // Shards in model order, each up to max_shard_bytes (a tensor larger than that gets its own).
    std::vector<std::vector<TensorToWrite>> shards(1);
    std::uint64_t in_shard = 0, total = 0;
    for (std::size_t i = 0; i < layout_.params().size(); ++i) {
        const auto& p = layout_.params()[i];
        const std::uint64_t bytes = p.numel * dtype_size(dtype);
        if (in_shard > 0 && in_shard + bytes > max_shard_bytes) {
            shards.emplace_back();
            in_shard = 0;
        }
        shards.back().push_back({p.name, p.shape, tensor(static_cast<int>(i)), dtype});
        in_shard += bytes;
        total += bytes;
    }
    std::vector<std::string> written;
    if (shards.size() == 1) {
        write_safetensors(dir / "model.safetensors", shards[0], {{"format", "pt"}});
        written.push_back("model.safetensors");
    } else {
        nlohmann::ordered_json index;
        index["metadata"] = {{"total_size", total}};
        index["weight_map"] = nlohmann::ordered_json::object();
        char name[64];
        for (std::size_t s = 0; s < shards.size(); ++s) {
            std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1,
                          shards.size());
            write_safetensors(dir / name, shards[s], {{"format", "pt"}});
            written.emplace_back(name);
            for (const auto& t : shards[s]) index["weight_map"][t.name] = name;
        }
        write_file_atomic(dir / "model.safetensors.index.json", index.dump(2) + "\n");
        written.emplace_back("model.safetensors.index.json");
    }
    // Weights of an earlier save in another layout would confuse loaders: remove them.
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string n = e.path().filename().string();
        const bool weights = n == "model.safetensors" || n == "model.safetensors.index.json" ||
                             (n.starts_with("model-") && n.ends_with(".safetensors"));
        if (weights && std::find(written.begin(), written.end(), n) == written.end())
            fs::remove(e.path(), ec);
    }
    write_file_atomic(dir / "config.json", c.to_json().dump(2) + "\n");
}

} // namespace bcd
