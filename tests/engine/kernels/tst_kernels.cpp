// The shared element-wise math of engine/src/kernels (run by the CPU reference and the CUDA
// kernels alike) against independent formulas in double precision, and bf16 rounding against
// its definition: round to nearest even, stochastic rounding unbiased with the right
// probabilities, NaN and infinities preserved.

#include "bcd/rng.h"
#include "kernels/activation.h"
#include "kernels/bf16.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/rope.h"
#include "kernels/softmax.h"

#include <QtTest>
#include <cmath>
#include <cstring>
#include <limits>

using namespace bcd::kernels;

namespace {

double rel(double got, double want) {
    return std::abs(got - want) / std::max(std::abs(want), 1e-30);
}

// The two bf16 values around x (by truncation and one ulp above in magnitude) as floats.
std::pair<float, float> bf16_neighbours(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    const std::uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    float a, b;
    std::memcpy(&a, &lo, 4);
    std::memcpy(&b, &hi, 4);
    return {a, b};
}

float random_float(bcd::Rng& rng) {
    const double mag = std::ldexp(rng.uniform() + 0.5, static_cast<int>(rng.below(60)) - 30);
    return static_cast<float>(rng.uniform() < 0.5 ? -mag : mag);
}

} // namespace

class TestKernels : public QObject {
    Q_OBJECT
private slots:
    void rmsnorm() {
        bcd::Rng rng(1);
        const int C = 37;
        std::vector<float> x(C), w(C), dy(C);
        for (int i = 0; i < C; ++i) {
            x[i] = static_cast<float>(rng.normal());
            w[i] = 1.0f + 0.1f * static_cast<float>(rng.normal());
            dy[i] = static_cast<float>(rng.normal());
        }
        float ss = 0;
        for (float v : x) ss += v * v;
        const float eps = 1e-5f;
        const float r = rmsnorm_rstd(ss, C, eps);
        double ms = 0;
        for (float v : x) ms += double(v) * v;
        const double r_ref = 1.0 / std::sqrt(ms / C + eps);
        QVERIFY(rel(r, r_ref) < 1e-6);
        // dx against the closed form of d/dx_i [x_i r w_i]·dy summed over the row.
        float dot = 0;
        for (int i = 0; i < C; ++i) dot += rmsnorm_dot_term(dy[i], w[i], x[i], r);
        for (int i = 0; i < C; ++i) {
            double want = 0;
            for (int j = 0; j < C; ++j) {
                const double dyj_wj = double(dy[j]) * w[j];
                const double d =
                    (i == j ? r_ref : 0.0) - double(x[j]) * x[i] * std::pow(r_ref, 3) / C;
                want += dyj_wj * d;
            }
            QVERIFY2(std::abs(rmsnorm_dx(dy[i], w[i], x[i], r, dot / C) - want) < 1e-5,
                     qPrintable(QString("dx[%1]").arg(i)));
            QVERIFY(rel(rmsnorm_apply(x[i], r, w[i]), x[i] * r_ref * w[i]) < 1e-6);
            QVERIFY(rel(rmsnorm_dw_term(dy[i], x[i], r), dy[i] * x[i] * r_ref) < 1e-6);
        }
    }

    void rope_is_a_rotation_and_its_transpose() {
        bcd::Rng rng(2);
        for (int k = 0; k < 1000; ++k) {
            const double angle = rng.uniform() * 20.0;
            const float c = static_cast<float>(std::cos(angle)),
                        s = static_cast<float>(std::sin(angle));
            float a = static_cast<float>(rng.normal()), b = static_cast<float>(rng.normal());
            const float a0 = a, b0 = b;
            rope_rotate(a, b, c, s);
            QVERIFY(std::abs(a - (a0 * std::cos(angle) - b0 * std::sin(angle))) < 1e-5);
            QVERIFY(std::abs(b - (b0 * std::cos(angle) + a0 * std::sin(angle))) < 1e-5);
            rope_rotate_back(a, b, c, s);
            QVERIFY(std::abs(a - a0) < 1e-5 && std::abs(b - b0) < 1e-5);
        }
    }

    void swiglu_and_its_gradient() {
        for (double g = -12.0; g <= 12.0; g += 0.37) {
            const double u = 0.7 - g * 0.1, dh = 1.3;
            const double sig = 1.0 / (1.0 + std::exp(-g));
            QVERIFY(rel(silu(static_cast<float>(g)), g * sig) < 1e-6);
            QVERIFY(rel(swiglu(static_cast<float>(g), static_cast<float>(u)), g * sig * u) < 1e-6);
            float dg, du;
            swiglu_back(static_cast<float>(dh), static_cast<float>(g), static_cast<float>(u), dg,
                        du);
            // d/dg [g σ(g) u] = u (σ + g σ (1 − σ))
            QVERIFY(std::abs(dg - dh * u * (sig + g * sig * (1 - sig))) < 1e-5);
            QVERIFY(std::abs(du - dh * g * sig) < 1e-5);
        }
    }

    void cross_entropy_row() {
        bcd::Rng rng(3);
        const int V = 50, target = 17;
        std::vector<float> z(V);
        for (auto& v : z) v = 3.0f * static_cast<float>(rng.normal());
        float mx = z[0];
        for (float v : z) mx = std::max(mx, v);
        double sum_d = 0;
        float sum_f = 0;
        for (float v : z) {
            sum_d += softmax_exp_wide(v, mx);
            sum_f += softmax_exp(v, mx);
        }
        double lse_ref = 0;
        for (float v : z) lse_ref += std::exp(double(v));
        lse_ref = std::log(lse_ref);
        QVERIFY(std::abs(logsumexp(mx, sum_d) - lse_ref) < 1e-5);
        QVERIFY(std::abs(logsumexp(mx, sum_f) - lse_ref) < 1e-5);
        const float lse = logsumexp(mx, sum_d);
        QVERIFY(std::abs(cross_entropy_loss(lse, z[target]) - (lse_ref - z[target])) < 1e-5);
        // The gradient row sums to zero and equals softmax − onehot.
        double total = 0;
        for (int j = 0; j < V; ++j) {
            const float d = cross_entropy_dlogit(z[j], lse, 0.5f, j == target);
            const double want = 0.5 * (std::exp(z[j] - lse_ref) - (j == target ? 1.0 : 0.0));
            QVERIFY(std::abs(d - want) < 1e-6);
            total += d;
        }
        QVERIFY(std::abs(total) < 1e-5);
        QCOMPARE(attention_dscore(0.25f, 2.0f, 0.5f, 0.125f), 0.125f * 0.25f * 1.5f);
    }

    // PyTorch's AdamW (torch/optim/adamw.py, foreach=False) in double, over several steps.
    void adamw_matches_pytorch_formula() {
        const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
        float p = 0.7f, m = 0.0f, v = 0.0f;
        double P = 0.7, M = 0, Vv = 0;
        const double grads[] = {0.3, -0.2, 0.05, 1.5, -0.7};
        for (int t = 1; t <= 5; ++t) {
            const double g = grads[t - 1];
            const AdamWConstants k = adamw_constants(b1, b2, eps, lr, wd, t, true);
            adamw_update(p, m, v, static_cast<float>(g), k);
            P *= 1 - lr * wd;
            M = b1 * M + (1 - b1) * g;
            Vv = b2 * Vv + (1 - b2) * g * g;
            const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
            P -= lr / bc1 * M / (std::sqrt(Vv) / std::sqrt(bc2) + eps);
            QVERIFY2(std::abs(p - P) < 1e-6,
                     qPrintable(QString("step %1: %2 vs %3").arg(t).arg(p).arg(P)));
            QVERIFY(std::abs(m - M) < 1e-6 && std::abs(v - Vv) < 1e-6);
        }
        // Tensors without decay are not decayed.
        QCOMPARE(adamw_constants(b1, b2, eps, lr, wd, 1, false).decay, 1.0f);
    }

    // torch.optim.SGD with momentum μ (no dampening, coupled weight decay).
    void sgd_matches_pytorch_formula() {
        const double lr = 0.1, mu = 0.9, wd = 0.01;
        float p = 1.0f, buf = 0.0f;
        double P = 1.0, B = 0.0;
        const double grads[] = {0.5, -0.25, 0.125};
        for (int t = 1; t <= 3; ++t) {
            SgdConstants k;
            k.lr = static_cast<float>(lr);
            k.momentum = static_cast<float>(mu);
            k.weight_decay = static_cast<float>(wd);
            k.first_step = t == 1;
            sgd_update(p, &buf, static_cast<float>(grads[t - 1]), k);
            const double d = grads[t - 1] + wd * P;
            B = t == 1 ? d : mu * B + d;
            P -= lr * B;
            QVERIFY(std::abs(p - P) < 1e-6);
        }
        QCOMPARE(clip_factor(2.0, 1.0), 1.0 / (2.0 + 1e-6));
    }

    // Round to nearest even against its definition on a million floats and the special cases.
    void bf16_round_to_nearest_even() {
        bcd::Rng rng(4);
        for (int k = 0; k < 1000000; ++k) {
            const float x = random_float(rng);
            const auto [lo, hi] = bf16_neighbours(x);
            const float r = bf16_to_float(float_to_bf16(x));
            const double dl = std::abs(double(x) - lo), dh = std::abs(double(hi) - x);
            if (dl < dh)
                QCOMPARE(r, lo);
            else if (dh < dl)
                QCOMPARE(r, hi);
            else { // a tie: the even one (last kept bit 0)
                std::uint32_t u;
                std::memcpy(&u, &r, 4);
                QVERIFY(((u >> 16) & 1u) == 0u);
            }
        }
        // Exact values survive; ties to even on both sides; overflow rounds to infinity.
        QCOMPARE(bf16_to_float(float_to_bf16(1.5f)), 1.5f);
        QCOMPARE(float_to_bf16(bits_float(0x3f808000u)), std::uint16_t(0x3f80)); // tie, even below
        QCOMPARE(float_to_bf16(bits_float(0x3f818000u)), std::uint16_t(0x3f82)); // tie, even above
        QCOMPARE(float_to_bf16(std::numeric_limits<float>::max()), std::uint16_t(0x7f80));
        QCOMPARE(float_to_bf16(-std::numeric_limits<float>::infinity()), std::uint16_t(0xff80));
        QVERIFY(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
        // A signalling NaN whose payload sits in the dropped bits must not become infinity.
        QVERIFY(std::isnan(bf16_to_float(float_to_bf16(bits_float(0x7f800001u)))));
        QCOMPARE(float_to_bf16(-0.0f), std::uint16_t(0x8000));
    }

    // Stochastic rounding: always one of the two neighbours, up with probability equal to the
    // dropped fraction, so the mean of many roundings converges to x.
    void bf16_stochastic_rounding_statistics() {
        bcd::Rng rng(5);
        for (int k = 0; k < 20; ++k) {
            const float x = random_float(rng);
            const auto [lo, hi] = bf16_neighbours(x);
            const double frac = (double(x) - lo) / (double(hi) - lo); // magnitude-relative
            const int n = 20000;
            int up = 0;
            double mean = 0;
            for (int i = 0; i < n; ++i) {
                const float r = bf16_to_float(float_to_bf16_stochastic(x, hash_bits(k, i)));
                QVERIFY(r == lo || r == hi);
                up += r == hi;
                mean += r;
            }
            mean /= n;
            const double p = static_cast<double>(up) / n;
            const double sd = std::sqrt(frac * (1 - frac) / n);
            QVERIFY2(std::abs(p - frac) < 5 * sd + 1e-4,
                     qPrintable(QString("x=%1: up %2, expected %3").arg(x).arg(p).arg(frac)));
            QVERIFY(std::abs(mean - x) < 5 * sd * std::abs(double(hi) - lo) + 1e-12 * std::abs(x));
        }
        // Values already in bf16 never move; infinities and NaN are kept.
        for (std::uint32_t r : {0u, 1u, 0xffffu}) {
            QCOMPARE(float_to_bf16_stochastic(1.5f, r), std::uint16_t(0x3fc0));
            QCOMPARE(float_to_bf16_stochastic(std::numeric_limits<float>::infinity(), r),
                     std::uint16_t(0x7f80));
            QVERIFY(std::isnan(bf16_to_float(
                float_to_bf16_stochastic(std::numeric_limits<float>::quiet_NaN(), r))));
        }
        // The hash's bits are uniform enough: each of the 16 low bits is set about half the time.
        int ones[16] = {};
        for (int i = 0; i < 65536; ++i)
            for (int b = 0; b < 16; ++b) ones[b] += (hash_bits(7, i) >> b) & 1u;
        for (int b = 0; b < 16; ++b) QVERIFY(std::abs(ones[b] - 32768) < 5 * 128);
    }
};

QTEST_APPLESS_MAIN(TestKernels)
#include "tst_kernels.moc"
