// The optimizers, learning-rate schedules and gradient clipping (docs/training.md) on small
// inputs whose results are worked out by hand or by the textbook formulas in double precision
// (AdamW: Loshchilov & Hutter with PyTorch's bias correction; SGD: PyTorch's torch.optim.SGD;
// clipping: torch.nn.utils.clip_grad_norm_), independently of the engine's kernels.

#include "bcd/optimizer.h"

#include <QtTest>
#include <cmath>
#include <vector>

namespace {

bcd::TensorSlot slot(std::vector<float>& p, std::vector<float>& g, std::vector<float>* m = nullptr,
                     std::vector<float>* v = nullptr, bool decay = true) {
    bcd::TensorSlot s;
    s.param = p.data();
    s.grad = g.data();
    s.m = m ? m->data() : nullptr;
    s.v = v ? v->data() : nullptr;
    s.n = p.size();
    s.decay = decay;
    return s;
}

bool close(double a, double b, double rel = 2e-6) {
    return std::abs(a - b) <= rel * std::max(1.0, std::abs(b));
}

} // namespace

class TestOptim : public QObject {
    Q_OBJECT
private slots:
    void constant_schedule_with_warmup() {
        bcd::LrSchedule s;
        s.lr = 0.4;
        s.warmup_steps = 4;
        s.total_steps = 100;
        QCOMPARE(s.at(1), 0.1); // linear warmup from lr/4 at step 1
        QCOMPARE(s.at(2), 0.2);
        QCOMPARE(s.at(4), 0.4);
        QCOMPARE(s.at(5), 0.4);
        QCOMPARE(s.at(100), 0.4);
    }

    void linear_schedule() {
        bcd::LrSchedule s;
        s.kind = "linear";
        s.lr = 1.0;
        s.min_lr = 0.0;
        s.warmup_steps = 2;
        s.total_steps = 10;
        QCOMPARE(s.at(2), 1.0);  // end of warmup: the peak
        QCOMPARE(s.at(6), 0.5);  // halfway through the decay
        QCOMPARE(s.at(10), 0.0); // the last step reaches min_lr
    }

    void cosine_schedule() {
        bcd::LrSchedule s;
        s.kind = "cosine";
        s.lr = 1.0;
        s.min_lr = 0.1;
        s.total_steps = 10;
        QVERIFY(close(s.at(5), 0.55)); // cos(π/2) = 0: halfway between lr and min_lr
        QVERIFY(close(s.at(10), 0.1));
        QVERIFY(close(s.at(0), 1.0));
        for (long t = 1; t < 10; ++t) QVERIFY(s.at(t + 1) <= s.at(t)); // never rises after warmup
    }

    // Cosine decay after a linear warm-up, down to min_lr (HF's get_cosine_schedule_with_warmup
    // with a floor): lr = 1e-3, min_lr = 1e-4, 10 warm-up steps, 110 in all, so the decay runs
    // over steps 10 … 110 (p = (t − 10) / 100). Values worked out by hand:
    //   t = 5:   warm-up, 5/10 × 1e-3 = 5e-4;   t = 10: the peak, 1e-3
    //   t = 35:  p = 1/4, 1e-4 + 4.5e-4 × (1 + cos(π/4)) = 1e-4 + 4.5e-4 × 1.7071068 = 8.681981e-4
    //   t = 60:  p = 1/2, 1e-4 + 4.5e-4 × (1 + 0) = 5.5e-4
    //   t = 110: p = 1,   1e-4 + 4.5e-4 × (1 − 1) = 1e-4 (min_lr, not 0)
    void cosine_with_warmup_and_min_lr() {
        bcd::LrSchedule s;
        s.kind = "cosine";
        s.lr = 1e-3;
        s.min_lr = 1e-4;
        s.warmup_steps = 10;
        s.total_steps = 110;
        QVERIFY(close(s.at(5), 5e-4, 1e-12));
        QVERIFY(close(s.at(10), 1e-3, 1e-12));
        QVERIFY2(close(s.at(35), 8.681981e-4, 1e-6),
                 qPrintable(QString::number(s.at(35), 'g', 10)));
        QVERIFY(close(s.at(60), 5.5e-4, 1e-12));
        QVERIFY(close(s.at(110), 1e-4, 1e-12));
        for (long t = 11; t < 110; ++t) QVERIFY(s.at(t + 1) < s.at(t) && s.at(t) > 1e-4);
    }

    // Linear decay after warm-up, to min_lr: lr = 2, min_lr = 0.5, 4 warm-up steps, 14 in all.
    // t = 1: 2/4 = 0.5; t = 9: halfway, 0.5 + 1.5 × 0.5 = 1.25; t = 14: 0.5.
    void linear_with_warmup_and_min_lr() {
        bcd::LrSchedule s;
        s.kind = "linear";
        s.lr = 2.0;
        s.min_lr = 0.5;
        s.warmup_steps = 4;
        s.total_steps = 14;
        QCOMPARE(s.at(1), 0.5);
        QCOMPARE(s.at(4), 2.0);
        QCOMPARE(s.at(9), 1.25);
        QCOMPARE(s.at(14), 0.5);
    }

    // Where eps matters: |g| = eps, so the first step is lr × g / (|g| + eps) = lr / 2.
    // p = 1, lr = 0.1: p = 0.95 (by hand).
    void adamw_eps_in_the_denominator() {
        std::vector<float> p{1.0f}, g{1e-8f}, m(1, 0.0f), v(1, 0.0f);
        bcd::OptimizerSettings o;
        o.eps = 1e-8;
        const auto s = slot(p, g, &m, &v);
        bcd::optimizer_step(o, std::span(&s, 1), 0.1, 1);
        QVERIFY2(close(p[0], 0.95, 1e-5), qPrintable(QString::number(p[0], 'g', 9)));
    }

    // SGD's weight decay (PyTorch: d = g + wd·p) applies to decayed tensors only.
    // p = 2, g = 1, wd = 0.5, lr = 0.1: decayed d = 2, p = 1.8; not decayed d = 1, p = 1.9.
    void sgd_weight_decay_only_where_asked() {
        std::vector<float> p{2.0f}, g{1.0f}, q{2.0f};
        bcd::OptimizerSettings o;
        o.name = "sgd";
        o.weight_decay = 0.5;
        const auto decayed = slot(p, g, nullptr, nullptr, true);
        bcd::optimizer_step(o, std::span(&decayed, 1), 0.1, 1);
        QVERIFY(close(p[0], 1.8));
        const auto plain = slot(q, g, nullptr, nullptr, false);
        bcd::optimizer_step(o, std::span(&plain, 1), 0.1, 1);
        QVERIFY(close(q[0], 1.9));
    }

    // The first AdamW step moves every parameter by lr against its gradient's sign (m̂ = g,
    // v̂ = g², |g| ≫ eps), whatever the gradient's size.
    void adamw_first_step_is_lr_times_sign() {
        std::vector<float> p{1.0f, -2.0f, 0.5f}, g{0.3f, -40.0f, 1e-3f}, m(3, 0.0f), v(3, 0.0f);
        bcd::OptimizerSettings o;
        o.beta1 = 0.9;
        o.beta2 = 0.999;
        const auto s = slot(p, g, &m, &v);
        bcd::optimizer_step(o, std::span(&s, 1), 0.01, 1);
        QVERIFY(close(p[0], 0.99, 1e-5));
        QVERIFY(close(p[1], -1.99, 1e-5));
        QVERIFY(close(p[2], 0.49, 1e-4));
    }

    // Three steps with weight decay against the textbook formula in double.
    void adamw_matches_the_formula() {
        const double lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
        const std::vector<double> grads{0.5, -0.25, 2.0};
        std::vector<float> p{1.5f}, g(1), m(1, 0.0f), v(1, 0.0f), pn{1.5f}, mn(1, 0.0f),
            vn(1, 0.0f);
        bcd::OptimizerSettings o;
        o.beta1 = b1;
        o.beta2 = b2;
        o.eps = eps;
        o.weight_decay = wd;
        double rp = 1.5, rm = 0.0, rv = 0.0, rpn = 1.5;
        for (long t = 1; t <= 3; ++t) {
            const double gt = grads[static_cast<std::size_t>(t - 1)];
            g[0] = static_cast<float>(gt);
            const auto s = slot(p, g, &m, &v, true);
            bcd::optimizer_step(o, std::span(&s, 1), lr, t);
            const auto sn = slot(pn, g, &mn, &vn, false); // a norm or bias: no decay
            bcd::optimizer_step(o, std::span(&sn, 1), lr, t);
            rm = b1 * rm + (1 - b1) * gt;
            rv = b2 * rv + (1 - b2) * gt * gt;
            const double mhat = rm / (1 - std::pow(b1, t)), vhat = rv / (1 - std::pow(b2, t));
            rp = rp * (1 - lr * wd) - lr * mhat / (std::sqrt(vhat) + eps);
            rpn = rpn - lr * mhat / (std::sqrt(vhat) + eps);
            QVERIFY2(close(p[0], rp),
                     qPrintable(QString("step %1: %2 vs %3").arg(t).arg(p[0]).arg(rp)));
            QVERIFY2(close(pn[0], rpn), qPrintable(QString("step %1").arg(t)));
            QVERIFY(close(m[0], rm));
            QVERIFY(close(v[0], rv));
        }
    }

    // SGD, worked by hand: p = 1, g = 0.5, lr = 0.1, weight decay 0.1, momentum 0.9.
    // Step 1: d = 0.5 + 0.1·1 = 0.6, buf = 0.6, p = 0.94.
    // Step 2: d = 0.5 + 0.094 = 0.594, buf = 0.9·0.6 + 0.594 = 1.134, p = 0.94 − 0.1134 = 0.8266.
    void sgd_momentum_and_decay_by_hand() {
        std::vector<float> p{1.0f}, g{0.5f}, buf(1, 123.0f); // the first step ignores old contents
        bcd::OptimizerSettings o;
        o.name = "sgd";
        o.momentum = 0.9;
        o.weight_decay = 0.1;
        QCOMPARE(bcd::state_floats_per_param(o), 1);
        const auto s = slot(p, g, &buf);
        bcd::optimizer_step(o, std::span(&s, 1), 0.1, 1);
        QVERIFY(close(p[0], 0.94));
        QVERIFY(close(buf[0], 0.6));
        bcd::optimizer_step(o, std::span(&s, 1), 0.1, 2);
        QVERIFY(close(buf[0], 1.134));
        QVERIFY(close(p[0], 0.8266));
    }

    void plain_sgd_and_state_sizes() {
        std::vector<float> p{2.0f, -1.0f}, g{1.0f, -3.0f};
        bcd::OptimizerSettings o;
        o.name = "sgd";
        QCOMPARE(bcd::state_floats_per_param(o), 0);
        QCOMPARE(bcd::state_floats_per_param(bcd::OptimizerSettings{}), 2); // adamw
        const auto s = slot(p, g);
        bcd::optimizer_step(o, std::span(&s, 1), 0.5, 1);
        QCOMPARE(p[0], 1.5f);
        QCOMPARE(p[1], 0.5f);
    }

    // ‖g‖ over several tensors (3-4-12-13), and over one large enough to be summed in chunks
    // by several threads: the same value as the plain sum.
    void grad_norm_over_slots() {
        std::vector<float> p1(2), g1{3.0f, 4.0f}, p2(1), g2{12.0f};
        const std::vector<bcd::TensorSlot> tensors{slot(p1, g1), slot(p2, g2)};
        QCOMPARE(bcd::grad_norm(tensors), 13.0);
        std::vector<float> pb(300000), gb(300000, 0.5f);
        const auto big = slot(pb, gb);
        QCOMPARE(bcd::grad_norm(std::span(&big, 1)), std::sqrt(300000 * 0.25));
    }

    // clip_grad_norm_: scaled by max_norm / (norm + 1e-6) when that is below 1, else untouched.
    void clipping() {
        std::vector<float> p1(2), g1{3.0f, 4.0f}, p2(1), g2{12.0f};
        const std::vector<bcd::TensorSlot> tensors{slot(p1, g1), slot(p2, g2)};
        bcd::clip_gradients(tensors, 13.0, 26.0); // below the limit: bitwise unchanged
        QCOMPARE(g1, (std::vector<float>{3.0f, 4.0f}));
        QCOMPARE(g2, (std::vector<float>{12.0f}));
        bcd::clip_gradients(tensors, 13.0, 1.0);
        const double k = 1.0 / (13.0 + 1e-6);
        QVERIFY(close(g1[0], 3.0 * k));
        QVERIFY(close(g1[1], 4.0 * k));
        QVERIFY(close(g2[0], 12.0 * k));
        QVERIFY(close(bcd::grad_norm(tensors), 1.0, 1e-5));
    }
};

QTEST_APPLESS_MAIN(TestOptim)
#include "tst_optim.moc"
