// The device seam (bcd/backend.h) with the CPU backend behind it: a training step through the
// interface is bitwise the reference computation (transformer + optimizer on host pointers), the
// active set's gradients are the full gradient restricted to it, optimizer state is kept, reset,
// exported and restored as documented, evaluation and decoding do not disturb training, and
// device resolution refuses or falls back with the reason.

#include "bcd/backend.h"
#include "bcd/blocks.h"
#include "bcd/rng.h"

#include <QtTest>
#include <cstring>

namespace {

bcd::ModelConfig tiny_config(bool tied) {
    bcd::ModelConfig c = bcd::ModelConfig::preset("tiny");
    c.vocab_size = 40;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_layers = 3;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 4;
    c.tie_word_embeddings = tied;
    return c;
}

void randomise(bcd::Model& m, std::uint64_t seed) {
    bcd::Rng rng(seed);
    for (std::size_t i = 0; i < m.layout().params().size(); ++i) {
        const auto& p = m.layout().params()[i];
        for (auto& x : m.tensor(static_cast<int>(i)))
            x = p.kind == bcd::ParamKind::Norm ? 1.0f + 0.1f * static_cast<float>(rng.normal())
                                               : 0.3f * static_cast<float>(rng.normal());
    }
}

struct Batch {
    int B = 2, T = 7;
    std::vector<std::int32_t> in, tg;
};

Batch make_batch(int V, std::uint64_t seed) {
    Batch b;
    bcd::Rng rng(seed);
    for (int i = 0; i < b.B * b.T; ++i) {
        b.in.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V))));
        b.tg.push_back(i % 4 == 1
                           ? -100
                           : static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V))));
    }
    return b;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

bcd::BackendOptions cpu_options(const bcd::Model& m) {
    bcd::BackendOptions o;
    o.device = "cpu";
    o.threads = 2;
    o.blocks = bcd::default_blocks(m.layout(), 1, true, true);
    return o;
}

// One optimizer step of `block` through the backend.
double backend_step(bcd::Backend& be, int block, const Batch& b, double lr, bool reset) {
    const int ids[] = {block};
    be.activate(ids, reset);
    be.zero_grads();
    const bcd::LossSum l = be.forward(b.in.data(), b.tg.data(), b.B, b.T);
    be.backward(1.0f / static_cast<float>(l.count));
    const double norm = be.grad_norm();
    be.clip_gradients(norm, 0.5);
    bcd::OptimizerSettings s;
    s.weight_decay = 0.1;
    be.optimizer_step(s, lr);
    return norm;
}

} // namespace

class TestBackend : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { bcd::set_cpu_threads(2); }

    // Two steps on two blocks through the seam equal the reference computation on host pointers,
    // bit for bit (the trainer's arithmetic before the seam).
    void step_matches_reference() {
        bcd::Model a(tiny_config(false)), ref(tiny_config(false));
        randomise(a, 1);
        randomise(ref, 1);
        auto be = bcd::make_backend(a, cpu_options(a));
        const auto blocks = bcd::default_blocks(ref.layout(), 1, true, true);
        const Batch b1 = make_batch(40, 2), b2 = make_batch(40, 3);
        const double n1 = backend_step(*be, 2, b1, 1e-2, true);
        const double n2 = backend_step(*be, 0, b2, 1e-2, true);

        auto tf = bcd::make_cpu_transformer(ref);
        double ref_norms[2];
        int k = 0;
        for (const auto& [block, batch] : {std::pair{2, &b1}, std::pair{0, &b2}}) {
            const bcd::PackedLayout pl = bcd::packed_layout(ref.layout(), blocks[block]);
            bcd::FloatBuffer g(pl.total), m(pl.total), v(pl.total);
            std::vector<float*> targets(ref.layout().params().size(), nullptr);
            std::vector<bcd::TensorSlot> tensors;
            for (std::size_t j = 0; j < blocks[block].tensors.size(); ++j) {
                const int t = blocks[block].tensors[j];
                const auto& p = ref.layout().params()[static_cast<std::size_t>(t)];
                targets[static_cast<std::size_t>(t)] = g.data() + pl.offsets[j];
                tensors.push_back({ref.params() + p.offset, g.data() + pl.offsets[j],
                                   m.data() + pl.offsets[j], v.data() + pl.offsets[j], p.numel,
                                   p.decays()});
            }
            tf->set_grad_targets(targets);
            const bcd::LossSum l = tf->forward(batch->in.data(), batch->tg.data(), 2, 7);
            tf->backward(1.0f / static_cast<float>(l.count));
            ref_norms[k] = bcd::grad_norm(tensors);
            bcd::clip_gradients(tensors, ref_norms[k], 0.5);
            bcd::OptimizerSettings s;
            s.weight_decay = 0.1;
            bcd::optimizer_step(s, tensors, 1e-2, 1);
            ++k;
        }
        QCOMPARE(n1, ref_norms[0]);
        QCOMPARE(n2, ref_norms[1]);
        QVERIFY(same_bits({a.params(), a.num_floats()}, {ref.params(), ref.num_floats()}));
    }

    // Several active blocks at once: their gradients are the full model's gradient restricted
    // to them, laid out block after block in activation order.
    void several_blocks_gradients() {
        bcd::Model m(tiny_config(true));
        randomise(m, 4);
        auto be = bcd::make_backend(m, cpu_options(m));
        const auto& blocks = cpu_options(m).blocks;
        const Batch b = make_batch(40, 5);
        const int ids[] = {3, 0}; // layers.2, then the embedding (tied: it has the head's part)
        be->activate(ids, true);
        QCOMPARE(be->active(), std::vector<int>({3, 0}));
        be->zero_grads();
        const bcd::LossSum l = be->forward(b.in.data(), b.tg.data(), b.B, b.T);
        be->backward(1.0f / static_cast<float>(l.count));
        const bcd::GradientView gv = be->gradients();
        QVERIFY(!gv.on_device);

        bcd::FloatBuffer full(m.num_floats());
        std::vector<float*> all;
        for (const auto& p : m.layout().params()) all.push_back(full.data() + p.offset);
        auto tf = bcd::make_cpu_transformer(m);
        tf->set_grad_targets(all);
        const bcd::LossSum lf = tf->forward(b.in.data(), b.tg.data(), b.B, b.T);
        QCOMPARE(lf.sum, l.sum);
        tf->backward(1.0f / static_cast<float>(lf.count));

        std::size_t base = 0;
        double max_rel = 0.0;
        for (int id : ids) {
            const bcd::PackedLayout pl = bcd::packed_layout(m.layout(), blocks[id]);
            for (std::size_t j = 0; j < blocks[id].tensors.size(); ++j) {
                const auto& p =
                    m.layout().params()[static_cast<std::size_t>(blocks[id].tensors[j])];
                for (std::size_t e = 0; e < p.numel; ++e) {
                    const double want = full.data()[p.offset + e];
                    const double got = gv.data[base + pl.offsets[j] + e];
                    max_rel = std::max(max_rel, std::abs(got - want) / (std::abs(want) + 1e-4));
                }
            }
            base += pl.total;
        }
        QCOMPARE(gv.count, base);
        QVERIFY2(max_rel < 1e-4, qPrintable(QString("max relative difference %1").arg(max_rel)));
    }

    // Kept state continues where it stopped; a reset starts from zeros; read/write round-trip.
    void state_keep_reset_export() {
        bcd::Model m(tiny_config(false));
        randomise(m, 6);
        auto be = bcd::make_backend(m, cpu_options(m));
        const Batch b = make_batch(40, 7);
        backend_step(*be, 1, b, 1e-3, false);
        backend_step(*be, 2, b, 1e-3, false);
        backend_step(*be, 1, b, 1e-3, false);
        QCOMPARE(be->blocks_with_state(), std::vector<int>({1, 2}));
        QCOMPARE(be->read_state(1).t, 2L);
        QCOMPARE(be->read_state(2).t, 1L);

        bcd::BlockState s1 = be->read_state(1);
        const std::size_t total = bcd::packed_layout(m.layout(), cpu_options(m).blocks[1]).total;
        QCOMPARE(s1.m.size(), total);
        QCOMPARE(s1.v.size(), total);
        bool nonzero = false;
        for (float x : s1.v.span()) nonzero |= x != 0.0f;
        QVERIFY(nonzero);

        // A reset at the next switch forgets every block's state.
        backend_step(*be, 2, b, 1e-3, true);
        QCOMPARE(be->blocks_with_state(), std::vector<int>({2}));
        QCOMPARE(be->read_state(2).t, 1L);

        // Restored state is used as is.
        be->write_state(1, std::move(s1));
        QCOMPARE(be->read_state(1).t, 2L);
        bcd::BlockState wrong;
        wrong.m.resize(3);
        wrong.v.resize(3);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, be->write_state(1, std::move(wrong)));
    }

    // Evaluation on the same instance changes neither the training state nor its results.
    void evaluation_between_steps() {
        bcd::Model a(tiny_config(false)), c(tiny_config(false));
        randomise(a, 8);
        randomise(c, 8);
        auto ba = bcd::make_backend(a, cpu_options(a));
        auto bc = bcd::make_backend(c, cpu_options(c));
        const Batch b = make_batch(40, 9), e = make_batch(40, 10);
        backend_step(*ba, 3, b, 1e-2, true);
        backend_step(*bc, 3, b, 1e-2, true);
        const bcd::LossSum l1 = ba->evaluate(e.in.data(), e.tg.data(), e.B, e.T);
        const bcd::LossSum l2 = ba->evaluate(e.in.data(), e.tg.data(), e.B, e.T);
        ba->end_evaluation();
        QCOMPARE(l1.sum, l2.sum);
        QVERIFY(l1.count > 0);
        backend_step(*ba, 3, b, 1e-2, true);
        backend_step(*bc, 3, b, 1e-2, true);
        QVERIFY(same_bits({a.params(), a.num_floats()}, {c.params(), c.num_floats()}));
    }

    void decoding_matches_forward() {
        bcd::Model m(tiny_config(true));
        randomise(m, 11);
        bcd::BackendOptions o;
        o.threads = 2;
        auto be = bcd::make_backend(m, o);
        const Batch b = make_batch(40, 12);
        be->start_decoding(b.T);
        std::vector<float> last;
        for (int t = 0; t < b.T; ++t) {
            const auto lg = be->decode_next(b.in[static_cast<std::size_t>(t)]);
            last.assign(lg.begin(), lg.end());
        }
        auto tf = bcd::make_cpu_transformer(m);
        tf->set_grad_targets(std::vector<float*>(m.layout().params().size(), nullptr));
        tf->forward(b.in.data(), b.tg.data(), 1, b.T);
        const auto ref = tf->logits().subspan(static_cast<std::size_t>(b.T - 1) * 40, 40);
        for (int i = 0; i < 40; ++i)
            QVERIFY(std::abs(last[static_cast<std::size_t>(i)] - ref[static_cast<std::size_t>(i)]) <
                    1e-4f);
    }

    void memory_by_category() {
        bcd::Model m(tiny_config(false));
        auto be = bcd::make_backend(m, cpu_options(m));
        const int ids[] = {2};
        be->activate(ids, true);
        const bcd::MemoryStats s = be->memory();
        const std::size_t total = bcd::packed_layout(m.layout(), cpu_options(m).blocks[2]).total;
        QCOMPARE(s.weights, m.num_floats() * sizeof(float));
        QCOMPARE(s.gradients, total * sizeof(float));
        QCOMPARE(s.optimizer, 2 * total * sizeof(float)); // AdamW: m and v of the active block
    }

    void precision_and_devices() {
        QCOMPARE(bcd::parse_precision("bf16"), bcd::TrainPrecision::BF16);
        QCOMPARE(std::string(bcd::precision_name(bcd::TrainPrecision::FP32)), std::string("fp32"));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, bcd::parse_precision("fp16"));

        bcd::Model m(tiny_config(false));
        bcd::BackendOptions o = cpu_options(m);
        o.precision = bcd::TrainPrecision::BF16;
        QVERIFY_THROWS_EXCEPTION(bcd::DeviceUnavailable, bcd::make_backend(m, o));

        QCOMPARE(bcd::resolve_device("cpu").device, std::string("cpu"));
        QVERIFY_THROWS_EXCEPTION(bcd::DeviceUnavailable, bcd::resolve_device("gpu"));
        QVERIFY_THROWS_EXCEPTION(bcd::DeviceUnavailable, bcd::resolve_device("cuda:x"));
        const bcd::CudaProbe probe = bcd::probe_cuda();
        if (probe.usable) {
            QCOMPARE(bcd::resolve_device("auto").device, std::string("cuda:0"));
            QVERIFY_THROWS_EXCEPTION(bcd::DeviceUnavailable, bcd::resolve_device("cuda:999"));
            return;
        }
        // Without a usable GPU: auto falls back to the CPU and says why; cuda is refused with
        // the same reason.
        QVERIFY(!probe.reason.empty());
        const bcd::DeviceChoice a = bcd::resolve_device("auto");
        QCOMPARE(a.device, std::string("cpu"));
        QVERIFY2(a.note.find(probe.reason) != std::string::npos, a.note.c_str());
        try {
            bcd::resolve_device("cuda:0");
            QFAIL("cuda:0 without a GPU must be refused");
        } catch (const bcd::DeviceUnavailable& e) {
            QVERIFY2(std::string(e.what()).find(probe.reason) != std::string::npos, e.what());
        }
        o.precision = bcd::TrainPrecision::FP32;
        o.device = "cuda:0";
        QVERIFY_THROWS_EXCEPTION(bcd::DeviceUnavailable, bcd::make_backend(m, o));
    }
};

QTEST_APPLESS_MAIN(TestBackend)
#include "tst_backend.moc"
