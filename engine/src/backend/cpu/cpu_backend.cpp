// The fp32 CPU reference behind the device seam: CpuTransformer computes on the host Model's own
// parameters, the active blocks' gradients live in one packed host buffer, and every block's kept
// optimizer state is a pair of host buffers. The arithmetic is exactly the trainer's of before
// the seam (same buffers, same order of operations), so results are bitwise unchanged.

#include "bcd/backend.h"
#include "bcd/errors.h"

#include <algorithm>
#include <map>
#include <thread>

namespace bcd {

namespace {

class CpuBackend final : public Backend {
public:
    CpuBackend(Model& model, const BackendOptions& opts)
        : model_(model), opts_(opts), tf_(make_cpu_transformer(model)) {
        if (opts.precision != TrainPrecision::FP32)
            throw DeviceUnavailable("the CPU backend trains in fp32 only (bf16 needs a GPU)");
        set_cpu_threads(opts.threads);
        tf_->set_recompute(opts.recompute);
        tf_->set_grad_targets(std::vector<float*>(model.layout().params().size(), nullptr));
    }

    std::string kind() const override { return "cpu"; }
    std::string describe() const override {
        const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        return "cpu (" + std::to_string(cpu_threads()) + " threads of " + std::to_string(cores) +
               " cores, fp32)";
    }
    TrainPrecision precision() const override { return TrainPrecision::FP32; }

    void activate(std::span<const int> blocks, bool reset_states) override {
        if (std::equal(blocks.begin(), blocks.end(), active_.begin(), active_.end())) return;
        const auto& params = model_.layout().params();
        for (int b : blocks)
            if (b < 0 || b >= static_cast<int>(opts_.blocks.size()))
                throw std::out_of_range("activate: no block " + std::to_string(b));
        // The old gradients (and state, on a reset) go first, so that the peak is never old + new.
        grads_.release();
        if (reset_states) states_.clear();
        active_.assign(blocks.begin(), blocks.end());
        layouts_.clear();
        std::size_t total = 0;
        for (int b : active_) {
            layouts_.push_back(packed_layout(model_.layout(), block(b)));
            total += layouts_.back().total;
        }
        grads_.resize(total);
        std::vector<float*> targets(params.size(), nullptr);
        std::size_t base = 0;
        for (std::size_t i = 0; i < active_.size(); ++i) {
            const auto& ts = block(active_[i]).tensors;
            for (std::size_t j = 0; j < ts.size(); ++j)
                targets[static_cast<std::size_t>(ts[j])] =
                    grads_.data() + base + layouts_[i].offsets[j];
            state_for(active_[i], layouts_[i].total);
            base += layouts_[i].total;
        }
        tf_->set_grad_targets(std::move(targets));
    }
    const std::vector<int>& active() const override { return active_; }

    void zero_grads() override { grads_.zero(); }
    LossSum forward(const std::int32_t* inputs, const std::int32_t* targets, int B,
                    int T) override {
        return tf_->forward(inputs, targets, B, T);
    }
    void backward(float scale) override { tf_->backward(scale); }
    GradientView gradients() override { return {grads_.data(), grads_.size(), false}; }
    double grad_norm() override { return bcd::grad_norm(slots()); }
    void clip_gradients(double norm, double max_norm) override {
        bcd::clip_gradients(slots(), norm, max_norm);
    }
    void optimizer_step(const OptimizerSettings& s, double lr) override {
        // One block after the other, each with its own step count.
        std::size_t first = 0;
        const auto all = slots();
        for (int b : active_) {
            const std::size_t n = block(b).tensors.size();
            BlockState& st = states_.at(b);
            st.t += 1;
            bcd::optimizer_step(s, std::span<const TensorSlot>(all).subspan(first, n), lr, st.t);
            first += n;
        }
    }

    LossSum evaluate(const std::int32_t* inputs, const std::int32_t* targets, int B,
                     int T) override {
        // A separate instance without gradient targets keeps no activations; the training
        // instance's activations stay as they are.
        if (!eval_) {
            eval_ = make_cpu_transformer(model_);
            eval_->set_grad_targets(std::vector<float*>(model_.layout().params().size(), nullptr));
        }
        return eval_->forward(inputs, targets, B, T);
    }
    void end_evaluation() override { eval_.reset(); }
    void start_decoding(int max_len) override { tf_->start_decoding(max_len); }
    std::span<const float> decode_next(std::int32_t token) override {
        return tf_->decode_next(token);
    }

    void sync_to_host() override {} // the CPU computes on the host Model itself

    std::vector<int> blocks_with_state() const override {
        std::vector<int> ids;
        for (const auto& [id, st] : states_) ids.push_back(id);
        return ids;
    }
    BlockState read_state(int b) override {
        const BlockState& st = states_.at(b);
        BlockState out;
        out.t = st.t;
        copy_into(out.m, st.m);
        copy_into(out.v, st.v);
        return out;
    }
    void write_state(int b, BlockState state) override {
        const std::size_t total = packed_layout(model_.layout(), block(b)).total;
        const int per_param = state_floats_per_param(opts_.optimizer);
        if ((per_param >= 1 ? total : 0) != state.m.size() ||
            (per_param >= 2 ? total : 0) != state.v.size())
            throw std::invalid_argument("write_state: the state does not match block " +
                                        std::to_string(b) + "'s size");
        states_[b] = std::move(state);
    }

    MemoryStats memory() const override {
        MemoryStats m = tf_->memory();
        if (eval_) {
            const MemoryStats e = eval_->memory();
            m.activations += e.activations;
            m.workspace += e.workspace;
        }
        m.gradients = grads_.bytes();
        m.optimizer = 0;
        for (const auto& [id, st] : states_) m.optimizer += st.m.bytes() + st.v.bytes();
        return m;
    }

private:
    const Block& block(int b) const { return opts_.blocks[static_cast<std::size_t>(b)]; }

    static void copy_into(FloatBuffer& dst, const FloatBuffer& src) {
        dst.resize(src.size());
        if (!src.empty()) std::copy_n(src.data(), src.size(), dst.data());
    }

    // The block's kept state, made (zeros, t = 0) when it has none.
    BlockState& state_for(int b, std::size_t total) {
        BlockState& st = states_[b];
        const int per_param = state_floats_per_param(opts_.optimizer);
        if (per_param >= 1 && st.m.empty()) st.m.resize(total);
        if (per_param >= 2 && st.v.empty()) st.v.resize(total);
        return st;
    }

    // The active blocks' tensors as optimizer slots, block after block.
    std::vector<TensorSlot> slots() {
        std::vector<TensorSlot> out;
        const auto& params = model_.layout().params();
        std::size_t base = 0;
        for (std::size_t i = 0; i < active_.size(); ++i) {
            BlockState& st = states_.at(active_[i]);
            const auto& ts = block(active_[i]).tensors;
            for (std::size_t j = 0; j < ts.size(); ++j) {
                const ParamInfo& p = params[static_cast<std::size_t>(ts[j])];
                const std::size_t off = layouts_[i].offsets[j];
                TensorSlot s;
                s.param = model_.params() + p.offset;
                s.grad = grads_.data() + base + off;
                s.m = st.m.empty() ? nullptr : st.m.data() + off;
                s.v = st.v.empty() ? nullptr : st.v.data() + off;
                s.n = p.numel;
                s.decay = p.decays();
                out.push_back(s);
            }
            base += layouts_[i].total;
        }
        return out;
    }

    Model& model_;
    BackendOptions opts_;
    std::unique_ptr<Transformer> tf_;
    std::unique_ptr<Transformer> eval_;
    std::vector<int> active_;
    std::vector<PackedLayout> layouts_;
    FloatBuffer grads_;
    std::map<int, BlockState> states_;
};

} // namespace

std::unique_ptr<Backend> make_cpu_backend(Model& model, const BackendOptions& opts) {
    return std::make_unique<CpuBackend>(model, opts);
}

} // namespace bcd
