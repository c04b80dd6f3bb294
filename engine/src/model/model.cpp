#include "bcd/model.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"
#include "bcd/rng.h"

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
    Model m(load_model_config(dir));
    const auto file = dir / "model.safetensors";
    if (!std::filesystem::exists(file)) {
        if (std::filesystem::exists(dir / "model.safetensors.index.json"))
            throw InputError((dir / "model.safetensors.index.json").string(), "",
                             "sharded checkpoints are not supported yet (expected a single "
                             "model.safetensors)");
        throw InputError(file.string(), "", "no such file (expected the model's weights)");
    }
    m.load_weights(SafetensorsFile::open(file));
    return m;
}

void Model::load_weights(const SafetensorsFile& file) {
    std::set<std::string> seen;
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
                             "expected shape " + shape_str(p.shape) + " from config.json, got " +
                                 shape_str(t.shape));
        file.read_f32(t, tensor(idx));
        seen.insert(t.name);
    }
    for (const auto& p : layout_.params())
        if (!seen.count(p.name))
            throw InputError(file.label(), "tensor '" + p.name + "'",
                             "is missing (expected every parameter of the model)");
}

void Model::save(const std::filesystem::path& dir, DType dtype) const {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw InternalError("cannot create " + dir.string() + ": " + ec.message());
    ModelConfig c = cfg_;
    c.torch_dtype = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
    std::vector<TensorToWrite> ts;
    ts.reserve(layout_.params().size());
    for (std::size_t i = 0; i < layout_.params().size(); ++i) {
        const auto& p = layout_.params()[i];
        ts.push_back({p.name, p.shape, tensor(static_cast<int>(i)), dtype});
    }
    write_safetensors(dir / "model.safetensors", ts, {{"format", "pt"}});
    write_file_atomic(dir / "config.json", c.to_json().dump(2) + "\n");
}

} // namespace bcd
