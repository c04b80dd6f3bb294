// Finite-difference checks of every CPU kernel's backward: for an operation y = f(x), the loss
// L = Σ y ∘ r with a fixed random r has ∂L/∂x = backward(dy = r); central differences of L must
// agree with it. A wrong gradient is off by O(1); float rounding keeps honest ones within 1e-3.

#include "backend/cpu/ops.h"
#include "bcd/rng.h"

#include <QtTest>
#include <cmath>
#include <functional>
#include <vector>

using Vec = std::vector<float>;

namespace {

Vec randn(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
    bcd::Rng rng(seed);
    Vec v(n);
    for (auto& x : v) x = scale * static_cast<float>(rng.normal());
    return v;
}

double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

// ||a - b|| / ||b||
double rel_err(const Vec& a, const Vec& b) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
        den += static_cast<double>(b[i]) * b[i];
    }
    return std::sqrt(num / std::max(den, 1e-300));
}

// Central differences of loss() with respect to every element of x.
Vec numeric_grad(Vec& x, const std::function<double()>& loss, float h = 1e-2f) {
    Vec g(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float old = x[i];
        x[i] = old + h;
        const double lp = loss();
        x[i] = old - h;
        const double lm = loss();
        x[i] = old;
        g[i] = static_cast<float>((lp - lm) / (2.0 * h));
    }
    return g;
}

void check(const char* what, const Vec& analytic, const Vec& numeric, double tol = 1e-3) {
    const double e = rel_err(analytic, numeric);
    qInfo("%-28s relative error %.2e", what, e);
    QVERIFY2(e <= tol, qPrintable(QString("%1: relative error %2 > %3").arg(what).arg(e).arg(tol)));
    // The check itself must be able to fail: a gradient off by a factor is detected.
    Vec wrong = analytic;
    for (auto& v : wrong) v *= 1.05f;
    QVERIFY(rel_err(wrong, numeric) > tol);
}

} // namespace

class TestCpuOps : public QObject {
    Q_OBJECT
private slots:
    void linear() {
        const int N = 5, in = 7, out = 6;
        Vec x = randn(N * in, 1), w = randn(out * in, 2), b = randn(out, 3), r = randn(N * out, 4);
        Vec y(N * out);
        auto loss = [&] {
            bcd::cpu::linear_forward(y.data(), x.data(), w.data(), b.data(), N, in, out);
            return dot(y, r);
        };
        Vec dx(N * in, 0.5f), dw(out * in, 0.25f), db(out, -1.0f);
        const Vec dw0 = dw, db0 = db;
        bcd::cpu::linear_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), N,
                                  in, out, /*accumulate_dx=*/false);
        // Parameter gradients accumulate; dx is overwritten when not accumulating.
        for (std::size_t i = 0; i < dw.size(); ++i) dw[i] -= dw0[i];
        for (std::size_t i = 0; i < db.size(); ++i) db[i] -= db0[i];
        check("linear dx", dx, numeric_grad(x, loss));
        check("linear dW", dw, numeric_grad(w, loss));
        check("linear db", db, numeric_grad(b, loss));
        Vec dx2(N * in, 1.0f);
        bcd::cpu::linear_backward(dx2.data(), nullptr, nullptr, r.data(), x.data(), w.data(), N, in,
                                  out, /*accumulate_dx=*/true);
        for (std::size_t i = 0; i < dx.size(); ++i) QCOMPARE(dx2[i], dx[i] + 1.0f);
    }

    void rmsnorm() {
        const int N = 4, C = 9;
        Vec x = randn(N * C, 5), w = randn(C, 6), r = randn(N * C, 7), y(N * C), rstd(N);
        auto loss = [&] {
            bcd::cpu::rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
            return dot(y, r);
        };
        loss();
        // Forward against the definition.
        for (int n = 0; n < N; ++n) {
            double ss = 0;
            for (int i = 0; i < C; ++i) ss += x[n * C + i] * x[n * C + i];
            const double rr = 1.0 / std::sqrt(ss / C + 1e-5);
            for (int i = 0; i < C; ++i)
                QVERIFY(std::abs(y[n * C + i] - x[n * C + i] * rr * w[i]) < 1e-5);
        }
        Vec dx(N * C, 0.0f), dw(C, 0.0f);
        bcd::cpu::rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(),
                                   N, C);
        check("rmsnorm dx", dx, numeric_grad(x, loss));
        check("rmsnorm dw", dw, numeric_grad(w, loss));
    }

    void rope() {
        const int B = 2, T = 5, H = 3, D = 8;
        Vec x = randn(B * T * H * D, 8), r = randn(x.size(), 9), cs(T * D / 2), sn(T * D / 2);
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D / 2; ++i) {
                const double a = t * std::pow(10000.0, -2.0 * i / D);
                cs[t * D / 2 + i] = static_cast<float>(std::cos(a));
                sn[t * D / 2 + i] = static_cast<float>(std::sin(a));
            }
        Vec y;
        auto loss = [&] {
            y = x;
            bcd::cpu::rope_forward(y.data(), cs.data(), sn.data(), B, T, H, D);
            return dot(y, r);
        };
        loss();
        // Rotation preserves the norm of each head vector.
        QVERIFY(std::abs(dot(y, y) - dot(x, x)) < 1e-3 * dot(x, x));
        Vec dx = r;
        bcd::cpu::rope_backward(dx.data(), cs.data(), sn.data(), B, T, H, D);
        check("rope dx", dx, numeric_grad(x, loss));
    }

    void attention_data() {
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("Hq");
        QTest::addColumn<int>("Hkv");
        QTest::newRow("mha T=6") << 6 << 2 << 2;
        QTest::newRow("gqa T=7") << 7 << 4 << 2;
        QTest::newRow("mqa T=5") << 5 << 3 << 1;
        // Longer than one row block of the causal blocking (64 rows), checked on a sample.
        QTest::newRow("gqa T=70") << 70 << 2 << 1;
    }
    void attention() {
        QFETCH(int, T);
        QFETCH(int, Hq);
        QFETCH(int, Hkv);
        const int B = 2, D = 4;
        Vec q = randn(B * T * Hq * D, 10), k = randn(B * T * Hkv * D, 11),
            v = randn(B * T * Hkv * D, 12), r = randn(B * T * Hq * D, 13);
        Vec ctx(q.size()), lse(static_cast<std::size_t>(B) * Hq * T);
        Vec scratch(static_cast<std::size_t>(bcd::cpu::attention_scratch_floats(T)));
        auto loss = [&] {
            bcd::cpu::attention_forward(ctx.data(), lse.data(), scratch.data(), q.data(), k.data(),
                                        v.data(), B, T, Hq, Hkv, D);
            return dot(ctx, r);
        };
        loss();
        // The kept log-sum-exp is that of the causal row of scaled scores (keys j <= i), and the
        // output is the softmax-weighted sum of the values: both against a direct computation.
        const int group = Hq / Hkv;
        for (int b = 0; b < B; ++b)
            for (int h = 0; h < Hq; ++h)
                for (int i = 0; i < T; ++i) {
                    std::vector<double> s(static_cast<std::size_t>(i) + 1);
                    double mx = -1e300;
                    for (int j = 0; j <= i; ++j) {
                        double d = 0;
                        for (int e = 0; e < D; ++e)
                            d += double(q[((b * T + i) * Hq + h) * D + e]) *
                                 k[((b * T + j) * Hkv + h / group) * D + e];
                        s[static_cast<std::size_t>(j)] = d / std::sqrt(double(D));
                        mx = std::max(mx, s[static_cast<std::size_t>(j)]);
                    }
                    double sum = 0;
                    for (double x : s) sum += std::exp(x - mx);
                    QVERIFY(std::abs(lse[(static_cast<std::size_t>(b) * Hq + h) * T + i] -
                                     (mx + std::log(sum))) < 1e-4);
                    for (int e = 0; e < D; ++e) {
                        double o = 0;
                        for (int j = 0; j <= i; ++j)
                            o += std::exp(s[static_cast<std::size_t>(j)] - mx) / sum *
                                 v[((b * T + j) * Hkv + h / group) * D + e];
                        QVERIFY(std::abs(ctx[((b * T + i) * Hq + h) * D + e] - o) < 1e-4);
                    }
                }
        Vec dq(q.size()), dk(k.size()), dv(v.size());
        bcd::cpu::attention_backward(dq.data(), dk.data(), dv.data(), scratch.data(), r.data(),
                                     ctx.data(), lse.data(), q.data(), k.data(), v.data(), B, T, Hq,
                                     Hkv, D);
        check("attention dq", dq, numeric_grad(q, loss));
        check("attention dk", dk, numeric_grad(k, loss));
        check("attention dv", dv, numeric_grad(v, loss));
    }

    void attention_is_causal() {
        // Changing a later token's key/value must not change an earlier output.
        const int B = 1, T = 6, H = 2, D = 4;
        Vec q = randn(T * H * D, 20), k = randn(T * H * D, 21), v = randn(T * H * D, 22);
        Vec c1(q.size()), c2(q.size()), lse(static_cast<std::size_t>(H) * T);
        Vec scratch(static_cast<std::size_t>(bcd::cpu::attention_scratch_floats(T)));
        bcd::cpu::attention_forward(c1.data(), lse.data(), scratch.data(), q.data(), k.data(),
                                    v.data(), B, T, H, H, D);
        for (int i = 0; i < H * D; ++i) {
            k[(T - 1) * H * D + i] += 3.0f;
            v[(T - 1) * H * D + i] -= 2.0f;
        }
        bcd::cpu::attention_forward(c2.data(), lse.data(), scratch.data(), q.data(), k.data(),
                                    v.data(), B, T, H, H, D);
        for (int i = 0; i < (T - 1) * H * D; ++i) QCOMPARE(c2[i], c1[i]);
        bool last_changed = false;
        for (int i = (T - 1) * H * D; i < T * H * D; ++i) last_changed |= c2[i] != c1[i];
        QVERIFY(last_changed);
    }

    void swiglu() {
        const long n = 40;
        Vec g = randn(n, 14, 2.0f), u = randn(n, 15), r = randn(n, 16), h(n);
        auto loss = [&] {
            bcd::cpu::swiglu_forward(h.data(), g.data(), u.data(), n);
            return dot(h, r);
        };
        Vec dg(n), du(n);
        bcd::cpu::swiglu_backward(dg.data(), du.data(), r.data(), g.data(), u.data(), n);
        check("swiglu dgate", dg, numeric_grad(g, loss));
        check("swiglu dup", du, numeric_grad(u, loss));
    }

    void embedding() {
        const int N = 6, C = 5, V = 4;
        std::vector<std::int32_t> tok{0, 3, 3, 1, 0, 3};
        Vec wte = randn(V * C, 17), r = randn(N * C, 18), x(N * C);
        auto loss = [&] {
            bcd::cpu::embedding_forward(x.data(), tok.data(), wte.data(), N, C);
            return dot(x, r);
        };
        Vec dw(V * C, 0.0f);
        bcd::cpu::embedding_backward(dw.data(), r.data(), tok.data(), N, C);
        check("embedding dW", dw, numeric_grad(wte, loss));
        for (int c = 0; c < C; ++c) QCOMPARE(dw[2 * C + c], 0.0f); // token 2 never used
    }

    void cross_entropy() {
        const int N = 5, V = 7;
        std::vector<std::int32_t> tgt{3, -100, 0, 6, -100};
        Vec logits = randn(N * V, 19, 2.0f), lse(N), losses(N);
        long count = 0;
        auto loss = [&] {
            return bcd::cpu::cross_entropy_forward(lse.data(), losses.data(), logits.data(),
                                                   tgt.data(), N, V, &count);
        };
        const double total = loss();
        QCOMPARE(count, 3L);
        double expect = 0;
        for (int n = 0; n < N; ++n) {
            if (tgt[n] < 0) {
                QCOMPARE(losses[n], 0.0f);
                continue;
            }
            double s = 0;
            for (int j = 0; j < V; ++j) s += std::exp(static_cast<double>(logits[n * V + j]));
            expect += std::log(s) - logits[n * V + tgt[n]];
        }
        QVERIFY(std::abs(total - expect) < 1e-5);
        Vec d = logits;
        bcd::cpu::cross_entropy_backward(d.data(), lse.data(), tgt.data(), N, V, 1.0f);
        check("cross-entropy dlogits", d, numeric_grad(logits, loss, 1e-2f));
        for (int j = 0; j < V; ++j) QCOMPARE(d[1 * V + j], 0.0f); // ignored row
    }
};

QTEST_APPLESS_MAIN(TestCpuOps)
#include "tst_cpu_ops.moc"
