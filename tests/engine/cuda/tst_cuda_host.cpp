// The CUDA backend's host-side logic (engine/src/backend/cuda/host_plan.h), checked without a GPU:
// which tensors are bf16 or fp32 in each precision, the alignment and disjointness of the device
// allocations' carving, the head's cross-entropy chunking, the truncation of the backward (the
// same rules as the CPU reference's), and the bookkeeping of block switches and offloaded state.

#include "backend/cuda/host_plan.h"
#include "bcd/blocks.h"

#include <QtTest>
#include <algorithm>

using namespace bcd;
using namespace bcd::cuda;

namespace {

ModelConfig small_config() {
    ModelConfig c = ModelConfig::preset("tiny");
    c.vocab_size = 1000;
    c.hidden_size = 64;
    c.intermediate_size = 160;
    c.num_layers = 4;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 16;
    return c;
}

std::vector<bool> flags_of(const ParamLayout& lay, const Block& b) {
    std::vector<bool> h(lay.params().size(), false);
    for (int t : b.tensors) h[static_cast<std::size_t>(t)] = true;
    return h;
}

// Every distinct buffer of a plan as [offset, offset + bytes).
std::vector<std::pair<std::size_t, std::size_t>> intervals(const ActivationPlan& p,
                                                           const ModelConfig& c, Dtype dt) {
    const std::size_t N = static_cast<std::size_t>(p.B) * p.T, C = c.hidden_size,
                      F = c.intermediate_size, QD = c.q_dim(), KD = c.kv_dim(), H = c.num_heads,
                      S = dtype_bytes(dt);
    std::vector<std::pair<std::size_t, std::size_t>> out;
    auto add = [&](std::size_t off, std::size_t bytes) { out.emplace_back(off, off + bytes); };
    std::vector<std::size_t> seen;
    for (const auto& a : p.layers) {
        if (std::find(seen.begin(), seen.end(), a.x) != seen.end()) continue;
        seen.push_back(a.x);
        add(a.x, N * C * S);
        if (p.recompute) continue;
        add(a.rstd1, N * 4);
        add(a.q, N * QD * S);
        add(a.k, N * KD * S);
        add(a.v, N * KD * S);
        add(a.lse, H * N * 4);
        add(a.ctx, N * QD * S);
        add(a.x2, N * C * S);
        add(a.rstd2, N * 4);
        add(a.gate, N * F * S);
        add(a.up, N * F * S);
    }
    add(p.xf, N * C * S);
    add(p.lnf, N * C * S);
    add(p.ln, N * C * S);
    add(p.h, N * F * S);
    add(p.scores, H * N * p.T * 4);
    add(p.probs, H * N * p.T * S);
    add(p.logits, static_cast<std::size_t>(p.ce_rows) * c.vocab_size * 4);
    if (p.backward) {
        add(p.dres, N * C * 4);
        add(p.dln, N * C * 4);
        add(p.dh, N * F * S);
        add(p.dqkvp, N * (QD + 2 * KD) * S);
        add(p.dlogits, static_cast<std::size_t>(p.ce_rows) * c.vocab_size * S);
    }
    return out;
}

} // namespace

class TstCudaHost : public QObject {
    Q_OBJECT
private slots:
    void placement_per_precision() {
        const Placement b = placement(TrainPrecision::BF16);
        QCOMPARE(b.weights, Dtype::BF16);
        QCOMPARE(b.activations, Dtype::BF16);
        // What the optimizer reads and writes stays fp32: master, gradients, moments.
        QCOMPARE(b.master, Dtype::F32);
        QCOMPARE(b.gradients, Dtype::F32);
        QCOMPARE(b.optimizer, Dtype::F32);
        QCOMPARE(b.residual_grad, Dtype::F32);
        QCOMPARE(b.scores, Dtype::F32);
        const Placement f = placement(TrainPrecision::FP32);
        for (Dtype d : {f.weights, f.activations, f.master, f.gradients, f.optimizer})
            QCOMPARE(d, Dtype::F32);
        QCOMPARE(dtype_bytes(Dtype::BF16), std::size_t(2));
        QCOMPARE(std::string(dtype_name(Dtype::BF16)), std::string("bf16"));
    }

    void carve_aligns_every_buffer() {
        Carve cv;
        QCOMPARE(cv.take(0), std::size_t(0));
        QCOMPARE(cv.take(1), std::size_t(0));
        QCOMPARE(cv.take(255), kAlign);
        QCOMPARE(cv.take(257), 2 * kAlign);
        QCOMPARE(cv.bytes(), 4 * kAlign);
    }

    void cross_entropy_chunks() {
        // 256 MiB over rows of 32000 · (4 + 2) bytes.
        QCOMPARE(ce_chunk_rows(8192, 32000, Dtype::BF16, kCeChunkBudget),
                 static_cast<int>(kCeChunkBudget / (32000 * 6)));
        QCOMPARE(ce_chunk_rows(10, 32000, Dtype::BF16, kCeChunkBudget), 10);   // never above N
        QCOMPARE(ce_chunk_rows(4096, 1 << 30, Dtype::F32, kCeChunkBudget), 1); // at least one
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, ce_chunk_rows(0, 10, Dtype::F32, 1));
    }

    void truncation_follows_the_active_block() {
        const ModelConfig c = small_config();
        const ParamLayout lay(c);
        const int L = c.num_layers;
        const auto blocks = default_blocks(lay, 1, true, true); // embed, layers, head
        QCOMPARE(static_cast<int>(blocks.size()), L + 2);

        // Layer 2 trains: layers 0-1 keep nothing, the input gradient stops at layer 2.
        Truncation t = truncation(lay, flags_of(lay, blocks[3]), false);
        QCOMPARE(t.first_kept, 2);
        QVERIFY(!t.below[0] && !t.below[1] && !t.below[2]);
        QVERIFY(t.below[3] && t.below[4]);
        QVERIFY(t.any_grad);
        QVERIFY(t.need_mlp_bwd(lay, 2) && t.need_attn_bwd(lay, 2));
        QVERIFY(!t.need_mlp_bwd(lay, 1));

        // The embedding trains: every layer keeps its activations.
        t = truncation(lay, flags_of(lay, blocks[0]), false);
        QCOMPARE(t.first_kept, 0);
        QVERIFY(t.below[0]);

        // The head trains: no layer keeps anything.
        t = truncation(lay, flags_of(lay, blocks.back()), false);
        QCOMPARE(t.first_kept, L);
        QVERIFY(!t.below[static_cast<std::size_t>(L)]);
        QVERIFY(t.any_grad);

        // Nothing trains (evaluation).
        t = truncation(lay, std::vector<bool>(lay.params().size(), false), false);
        QVERIFY(!t.any_grad);
        QCOMPARE(t.first_kept, L);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, truncation(lay, {true}, false));
    }

    void activation_plan_is_aligned_and_disjoint() {
        const ModelConfig c = small_config();
        for (Dtype dt : {Dtype::F32, Dtype::BF16})
            for (int first_kept : {0, 2, c.num_layers})
                for (bool recompute : {false, true})
                    for (bool backward : {false, true}) {
                        const ActivationPlan p =
                            plan_activations(c, 2, 24, dt, first_kept, recompute, backward);
                        auto iv = intervals(p, c, dt);
                        std::sort(iv.begin(), iv.end());
                        for (std::size_t i = 0; i < iv.size(); ++i) {
                            QCOMPARE(iv[i].first % kAlign, std::size_t(0));
                            QVERIFY(iv[i].second <= p.total_bytes);
                            if (i) QVERIFY2(iv[i - 1].second <= iv[i].first, "buffers overlap");
                        }
                        QVERIFY(p.activation_bytes <= p.total_bytes);
                        QCOMPARE(p.backward, backward);
                    }
    }

    void activation_plan_sizes() {
        const ModelConfig c = small_config();
        const int L = c.num_layers;
        auto bytes = [&](Dtype dt, int first_kept, bool rc) {
            return plan_activations(c, 2, 32, dt, first_kept, rc, true).activation_bytes;
        };
        // One more kept layer costs one layer's set, the same for every layer.
        const std::size_t one = bytes(Dtype::F32, L - 1, false),
                          two = bytes(Dtype::F32, L - 2, false),
                          three = bytes(Dtype::F32, L - 3, false);
        QVERIFY(two > one);
        QCOMPARE(three - two, two - one);
        // Layers below the kept ones share the first kept layer's set.
        const ActivationPlan p = plan_activations(c, 2, 32, Dtype::F32, 2, false, true);
        QCOMPARE(p.layers[0].x, p.layers[2].x);
        QCOMPARE(p.layers[1].gate, p.layers[2].gate);
        QVERIFY(p.layers[3].x != p.layers[2].x);
        // bf16 halves what is stored in the activation type; recomputation keeps only inputs.
        QVERIFY(bytes(Dtype::BF16, 0, false) < bytes(Dtype::F32, 0, false));
        QVERIFY(bytes(Dtype::F32, 0, true) < bytes(Dtype::F32, 0, false));
        // Evaluation has no backward workspace.
        QVERIFY(plan_activations(c, 2, 32, Dtype::F32, L, false, false).total_bytes <
                plan_activations(c, 2, 32, Dtype::F32, L, false, true).total_bytes);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 plan_activations(c, 0, 32, Dtype::F32, 0, false, true));
    }

    void block_switches_keep_and_reset_state() {
        const ModelConfig c = small_config();
        const ParamLayout lay(c);
        const auto blocks = default_blocks(lay, 1, true, true);
        BlockBook book(lay, blocks, 2);
        QVERIFY(book.max_block_floats() >= book.layout(0).total);
        QCOMPARE(book.max_block_floats() % (kAlign / 4), std::size_t(0));

        const int one[] = {1};
        auto s = book.plan(one, false);
        QVERIFY(!s.noop);
        QVERIFY(s.leave.empty());
        QCOMPARE(s.enter.size(), std::size_t(1));
        QVERIFY(!s.enter[0].restore);
        book.apply(s);
        QCOMPARE(book.active(), std::vector<int>{1});
        book.t(1) = 5;

        // The same set again changes nothing.
        QVERIFY(book.plan(one, true).noop);

        // Block 2 without a reset: block 1's state goes to the host and is kept.
        const int two[] = {2};
        s = book.plan(two, false);
        QCOMPARE(s.leave, std::vector<int>{1});
        book.apply(s);
        QVERIFY(book.kept_on_host(1));
        QCOMPARE(book.blocks_with_state(), (std::vector<int>{1, 2}));
        QCOMPARE(book.t(2), 0L);

        // Back to block 1: its state returns, with its step count.
        s = book.plan(one, false);
        QVERIFY(s.enter[0].restore);
        book.apply(s);
        QCOMPARE(book.t(1), 5L);
        QVERIFY(!book.kept_on_host(1));
        QVERIFY(book.kept_on_host(2));

        // A reset forgets every kept state: the new set starts at t = 0.
        s = book.plan(two, true);
        QVERIFY(s.forget_all);
        QVERIFY(!s.enter[0].restore);
        book.apply(s);
        QCOMPARE(book.blocks_with_state(), std::vector<int>{2});
        QCOMPARE(book.t(2), 0L);

        // Several blocks: each at an aligned base, one after the other.
        const int many[] = {3, 1, 4};
        s = book.plan(many, false);
        book.apply(s);
        QCOMPARE(book.base(3), std::size_t(0));
        QCOMPARE(book.base(1) % (kAlign / 4), std::size_t(0));
        QVERIFY(book.base(1) >= book.layout(3).total);
        QVERIFY(book.base(4) >= book.base(1) + book.layout(1).total);
        QVERIFY(book.region_floats() >= book.base(4) + book.layout(4).total);
        // A block that stays active leaves and comes back (its state moves with it).
        const int overlap[] = {1, 5};
        s = book.plan(overlap, false);
        QCOMPARE(s.leave, (std::vector<int>{3, 1, 4}));
        QVERIFY(s.enter[0].restore);
        QVERIFY(!s.enter[1].restore);

        // Restoring a checkpoint: an inactive block's state is kept; an active one cannot be.
        book.apply(s);
        book.keep(0);
        QVERIFY(book.kept_on_host(0));
        QVERIFY_THROWS_EXCEPTION(std::logic_error, book.keep(1));

        const int bad[] = {99};
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, book.plan(bad, false));
        const int twice[] = {2, 2};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, book.plan(twice, false));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, book.base(0));
    }
};

QTEST_GUILESS_MAIN(TstCudaHost)
#include "tst_cuda_host.moc"
